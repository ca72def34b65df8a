import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError } from '../common/errors';
import { Locale } from './i18n/locale';
import { DemoSignIns } from './demo-sign-ins';
import { homeOf, PageController, PageFrames, PageRequest } from './page-access';
import { PagesSecurity, sessionTokenOf } from './pages-security';
import { SessionsService } from './sessions/sessions.service';

type Form = Record<string, unknown>;
const field = (body: Form | undefined, name: string): string => (typeof body?.[name] === 'string' ? body[name] : '');
const title = (l: Locale) => l.t('login.title');

/** Signing in and out: an API key (partners, auditors, admins) or a resident's city token opens a server-side session. */
@PageController()
@Controller('app')
export class LoginController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly security: PagesSecurity,
    private readonly frames: PageFrames,
    private readonly demo: DemoSignIns,
  ) {}

  @Get('login')
  keyForm(@Req() req: Request & PageRequest, @Res() res: Response): void {
    this.frames.send(req, res, 'login', title, { resident: false, demo: this.demo.list() });
  }

  @Get('login/resident')
  residentForm(@Req() req: Request & PageRequest, @Res() res: Response): void {
    this.frames.send(req, res, 'login', title, { resident: true, demo: this.demo.list() });
  }

  @Post('login')
  async signInWithKey(@Req() req: Request & PageRequest, @Res() res: Response, @Body() body: Form): Promise<void> {
    try {
      const { token, user } = await this.sessions.signInWithKey(field(body, 'apiKey'));
      this.security.setSession(req, res, token);
      res.redirect(303, homeOf(user));
    } catch (error) {
      if (!(error instanceof DomainError) || !['unauthorized', 'forbidden'].includes(error.code)) throw error;
      const source = error.code === 'forbidden';
      this.frames.send(
        req,
        res,
        'login',
        title,
        { resident: false, demo: this.demo.list(), errorKey: source ? 'login.error.source' : 'login.error.unauthorized' },
        source ? 403 : 401,
      );
    }
  }

  @Post('login/resident')
  async signInResident(@Req() req: Request & PageRequest, @Res() res: Response, @Body() body: Form): Promise<void> {
    try {
      const { token, user } = await this.sessions.signInResident(field(body, 'token'));
      this.security.setSession(req, res, token);
      res.redirect(303, homeOf(user));
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'unauthorized') throw error;
      this.frames.send(
        req,
        res,
        'login',
        title,
        {
          resident: true,
          demo: this.demo.list(),
          errorKey: 'login.error.token',
          errorReason: error.detail.replace(/^resident token refused: /, ''),
        },
        401,
      );
    }
  }

  @Post('login/demo/:id')
  async signInDemo(@Req() req: Request & PageRequest, @Res() res: Response, @Param('id') id: string): Promise<void> {
    const entry = this.demo.find(id);
    if (!entry) throw new DomainError('not_found', 'no such demo sign-in');
    const { token, user } = await this.sessions.signInAs(entry.user);
    this.security.setSession(req, res, token);
    res.redirect(303, homeOf(user));
  }

  @Post('logout')
  @HttpCode(303)
  async signOut(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.sessions.signOut(sessionTokenOf(req));
    this.security.clearSession(res);
    res.redirect(303, '/app/login');
  }
}
