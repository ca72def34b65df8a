import {
  ArgumentsHost,
  CanActivate,
  Catch,
  ExceptionFilter,
  ExecutionContext,
  Injectable,
  Logger,
  SetMetadata,
  applyDecorators,
  createParamDecorator,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../common/access';
import { DomainError } from '../common/errors';
import { Locale, localeOf } from './i18n/locale';
import { Language, MessageKey } from './i18n/messages';
import { PagesSecurity, sessionTokenOf } from './pages-security';
import { PageFrame, PageViews } from './page-views';
import { audienceOf, PageAudience, PageUser } from './sessions/session';
import { SessionsService } from './sessions/sessions.service';

const PAGE_AUDIENCE = 'civic:page-audience';

/** A request on the pages: who is signed in (if anyone) and in which language. */
export interface PageRequest {
  pageUser?: PageUser | null;
}

/** Where someone not signed in is sent for a page of this audience. */
export function signInPathFor(audience: readonly PageAudience[]): string {
  return audience.includes('resident') ? '/app/login/resident' : '/app/login';
}

/** Where a signed-in user's pages start. */
export function homeOf(user: PageUser): string {
  if (user.kind === 'resident') return '/app';
  return user.role === 'partner' ? '/app/till' : '/app/finance';
}

class SignInRequired extends Error {
  constructor(readonly location: string) {
    super('sign-in required');
  }
}

class WrongRole extends Error {
  constructor(readonly user: PageUser) {
    super('wrong role');
  }
}

/**
 * Pages: outside the API's header authentication (a session cookie never reaches the API's
 * guard, which reads headers only), not in the OpenAPI document, their own guard and errors.
 * `audience` empty: anyone (the sign-in pages).
 */
export const PageController = (...audience: PageAudience[]) =>
  applyDecorators(
    Public(),
    ApiExcludeController(),
    SetMetadata(PAGE_AUDIENCE, audience),
    UseGuards(PageAccessGuard),
    UseFilters(PageErrorFilter),
  );

/** Narrows one handler's audience within its controller's (the console's "run now" is the admins' only). */
export const PageRoles = (...audience: PageAudience[]) => SetMetadata(PAGE_AUDIENCE, audience);

/**
 * Reads the session and enforces a page's audience: no session, 302 to the sign-in page; a
 * session of another role, 403.
 */
@Injectable()
export class PageAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const audience = this.reflector.getAllAndOverride<PageAudience[]>(PAGE_AUDIENCE, [context.getHandler(), context.getClass()]) ?? [];
    const req = context.switchToHttp().getRequest<Request & PageRequest>();
    const user = await this.sessions.resolve(sessionTokenOf(req));
    req.pageUser = user;
    if (audience.length === 0) return true;
    if (!user) throw new SignInRequired(signInPathFor(audience));
    if (!audience.includes(audienceOf(user))) throw new WrongRole(user);
    return true;
  }
}

export const CurrentPageUser = createParamDecorator((_: unknown, ctx: ExecutionContext): PageUser => {
  const user = ctx.switchToHttp().getRequest<PageRequest>().pageUser;
  if (!user) throw new Error('no page user: the page is missing its audience');
  return user;
});

/** Everything a template needs besides its model, for this request. */
@Injectable()
export class PageFrames {
  constructor(
    private readonly security: PagesSecurity,
    private readonly views: PageViews,
  ) {}

  of(req: Request & PageRequest, res: Response, title: (l: Locale) => string): PageFrame {
    const l = localeOf(res.locals.lang as Language);
    if (!req.pageUser) this.security.ensureVisitor(req, res);
    return {
      l,
      user: req.pageUser ?? null,
      csrf: this.security.token(req, res),
      path: req.path,
      query: queryWithoutLang(req),
      title: title(l),
    };
  }

  send(
    req: Request & PageRequest,
    res: Response,
    view: string,
    title: (l: Locale) => string,
    model: Record<string, unknown> = {},
    status = 200,
  ): void {
    this.views.send(res, view, { ...this.of(req, res, title), ...model }, status);
  }
}

/** Sign-in redirects, the wrong role's 403, a missing record's 404, and a plain 500 page: never JSON, never a stack. */
@Catch()
export class PageErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Pages');

  constructor(private readonly frames: PageFrames) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request & PageRequest>();
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof SignInRequired) return res.redirect(302, error.location);
    if (error instanceof WrongRole) {
      return this.frames.send(
        req,
        res,
        'message',
        (l) => l.t('forbidden.title'),
        {
          text: localeOf(res.locals.lang as Language).t('forbidden.text', {
            role: localeOf(res.locals.lang as Language).t(`role.${audienceOf(error.user)}` as MessageKey),
          }),
          home: homeOf(error.user),
        },
        403,
      );
    }
    if (error instanceof DomainError && (error.code === 'not_found' || error.code === 'validation_failed')) {
      const l = localeOf(res.locals.lang as Language);
      return this.frames.send(
        req,
        res,
        'message',
        () => l.t('notFound.title'),
        { text: l.t('notFound.text'), home: req.pageUser ? homeOf(req.pageUser) : '/app/login' },
        404,
      );
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    res.status(500).type('text').send('Internal error');
  }
}

/** The request's query string without `lang`, each pair followed by `&` ('' when there is none). */
function queryWithoutLang(req: Request): string {
  const at = req.originalUrl.indexOf('?');
  if (at < 0) return '';
  const params = new URLSearchParams(req.originalUrl.slice(at + 1));
  params.delete('lang');
  const text = params.toString();
  return text ? `${text}&` : '';
}
