import { Injectable } from '@nestjs/common';
import { Eta } from 'eta';
import type { Response } from 'express';
import { join } from 'node:path';
import { Locale } from './i18n/locale';
import { PageUser } from './sessions/session';

/** What every page's template gets besides its own model. */
export interface PageFrame {
  l: Locale;
  user: PageUser | null;
  /** the CSRF token for this page's forms */
  csrf: string;
  /** the page's path, for the language links */
  path: string;
  /** the page's query without `lang`, each pair followed by `&` ('' when none), so that switching the language keeps what is shown */
  query?: string;
  title: string;
}

/**
 * Server-rendered templates (Eta, under views/): every `<%= %>` is HTML-escaped by the engine;
 * the only unescaped output is a rendered template's own body in the layout. Templates format a
 * view model; they decide nothing.
 */
@Injectable()
export class PageViews {
  private readonly eta = new Eta({ views: join(__dirname, 'views'), autoEscape: true, cache: true, autoTrim: [false, 'nl'] });

  render(view: string, data: Partial<PageFrame> & Record<string, unknown>): string {
    return this.eta.render(`./${view}`, data);
  }

  send(res: Response, view: string, data: PageFrame & Record<string, unknown>, status = 200): void {
    res.status(status).type('html').send(this.render(view, data));
  }
}
