import { Inject, Injectable } from '@nestjs/common';
import { doubleCsrf } from 'csrf-csrf';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { isLanguage } from './i18n/locale';
import { Language } from './i18n/messages';

export const SESSION_COOKIE = 'civic_session';
/** Before sign-in, the CSRF token of the sign-in forms is bound to this random cookie instead of a session. */
export const VISITOR_COOKIE = 'civic_visitor';
export const CSRF_COOKIE = 'civic_csrf';
export const LANG_COOKIE = 'civic_lang';
export const CSRF_FIELD = '_csrf';

/**
 * The pages' cookies and CSRF protection (csrf-csrf's double-submit cookie, the token signed with
 * the session it belongs to, sent in every form as `_csrf`). Cookies are httpOnly, SameSite=Strict,
 * and Secure when the request came over TLS (directly or through the trusted proxy).
 */
@Injectable()
export class PagesSecurity {
  private readonly csrf: ReturnType<typeof doubleCsrf>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const secret = config.sessionSecret ?? randomBytes(32).toString('base64url');
    this.csrf = doubleCsrf({
      getSecret: () => secret,
      getSessionIdentifier: (req) => sessionIdentifierOf(req),
      cookieName: CSRF_COOKIE,
      cookieOptions: { sameSite: 'strict', path: '/app', httpOnly: true, secure: false },
      getCsrfTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?.[CSRF_FIELD] as string | undefined,
      // the secure flag follows the request: set per token below
      skipCsrfProtection: () => false,
    });
  }

  /** Refuses a form post whose token is missing or not this session's (calls `refused` instead of `next`). */
  check(req: Request): boolean {
    return this.csrf.validateRequest(req);
  }

  /** The token for this page's forms (the same one while its cookie is valid for the session). */
  token(req: Request, res: Response): string {
    return this.csrf.generateCsrfToken(req, res, { cookieOptions: { secure: req.secure } });
  }

  /** A visitor not yet signed in gets a random identifier, so that the sign-in forms carry a CSRF token too. */
  ensureVisitor(req: Request, res: Response): void {
    const cookies = cookiesOf(req);
    if (cookies[SESSION_COOKIE] || cookies[VISITOR_COOKIE]) return;
    const id = randomBytes(24).toString('base64url');
    res.cookie(VISITOR_COOKIE, id, cookieOptions(req));
    cookies[VISITOR_COOKIE] = id;
  }

  setSession(req: Request, res: Response, token: string): void {
    res.cookie(SESSION_COOKIE, token, cookieOptions(req));
    // the new session needs tokens of its own: the sign-in's are bound to the visitor
    res.clearCookie(CSRF_COOKIE, { path: '/app' });
    res.clearCookie(VISITOR_COOKIE, { path: '/app' });
  }

  clearSession(res: Response): void {
    for (const name of [SESSION_COOKIE, CSRF_COOKIE, VISITOR_COOKIE]) res.clearCookie(name, { path: '/app' });
  }

  /** `?lang=ru|en` chooses and remembers the language; else the remembered one; else Russian. */
  language(req: Request, res: Response): Language {
    const asked = req.query.lang;
    if (isLanguage(asked)) {
      res.cookie(LANG_COOKIE, asked, { ...cookieOptions(req), maxAge: 365 * 24 * 3600_000 });
      return asked;
    }
    const remembered = cookiesOf(req)[LANG_COOKIE];
    return isLanguage(remembered) ? remembered : 'ru';
  }
}

export function sessionTokenOf(req: Request): string | undefined {
  const v = cookiesOf(req)[SESSION_COOKIE];
  return typeof v === 'string' ? v : undefined;
}

function sessionIdentifierOf(req: Request): string {
  const cookies = cookiesOf(req);
  return cookies[SESSION_COOKIE] ?? (cookies[VISITOR_COOKIE] ? `visitor:${cookies[VISITOR_COOKIE]}` : '');
}

function cookiesOf(req: Request): Record<string, string> {
  return ((req as { cookies?: Record<string, string> }).cookies ??= {});
}

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path: '/app' };
}
