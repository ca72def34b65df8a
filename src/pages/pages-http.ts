import type { NestExpressApplication } from '@nestjs/platform-express';
import compression from 'compression';
import cookieParser from 'cookie-parser';
import { NextFunction, Request, Response, urlencoded } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { dirname, join } from 'node:path';
import { AppConfig } from '../config/config';
import { localeOf } from './i18n/locale';
import { PagesSecurity, sessionTokenOf } from './pages-security';
import { PageViews } from './page-views';
import { REDIS } from '../infra/queue/redis.token';
import { ThrottlerStore } from './shared-rate-limit-store';
import type Redis from 'ioredis';

/** Where the pages' files are served from: our stylesheet, and client libraries at their installed (pinned) versions. */
export const ASSETS = {
  '/app/assets/pico.min.css': join(dirname(require.resolve('@picocss/pico/package.json')), 'css', 'pico.min.css'),
  '/app/assets/app.css': join(__dirname, 'assets', 'app.css'),
  // the finance console's charts: uPlot (pinned in package.json) and our script that draws them
  '/app/assets/uPlot.min.css': join(dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.min.css'),
  '/app/assets/uPlot.iife.min.js': join(dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.iife.min.js'),
  '/app/assets/finance-charts.js': join(__dirname, 'assets', 'finance-charts.js'),
} as const;

/**
 * The pages' HTTP plumbing in front of their controllers, for /app only (the JSON API under /v1
 * is untouched: no cookies are read there): compression, a strict Content-Security-Policy with
 * no inline script or style, form bodies, cookies, the language, CSRF checks on every form post,
 * a rate limit on sign-in, and the static assets.
 */
export function mountPages(app: NestExpressApplication, config: AppConfig): void {
  const security = app.get(PagesSecurity);
  const views = app.get(PageViews);
  // one budget across the deployment's processes when Redis is configured
  const redis = app.get<typeof REDIS, Redis | null>(REDIS, { strict: false });
  app.use('/app', compression());
  app.use(
    '/app',
    helmet.contentSecurityPolicy({
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    }),
  );
  for (const [path, file] of Object.entries(ASSETS)) {
    app.use(path, (req: Request, res: Response, next: NextFunction) =>
      req.method === 'GET' || req.method === 'HEAD'
        ? res.sendFile(file, { maxAge: 24 * 3600_000, headers: { 'X-Content-Type-Options': 'nosniff' } })
        : next(),
    );
  }
  app.use('/app', cookieParser());
  app.use('/app', urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }));
  app.use('/app', (req: Request, res: Response, next: NextFunction) => {
    // personal pages: never kept by a shared cache or the back button of a signed-out browser
    res.setHeader('Cache-Control', 'no-store');
    res.locals.lang = security.language(req, res);
    next();
  });
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: config.loginRatePerMinute,
    store: ThrottlerStore.of(redis, `${config.queuePrefix}:pages-sign-in`),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) => {
      const l = localeOf(res.locals.lang);
      res
        .status(429)
        .type('html')
        .send(
          views.render('message', { l, title: l.t('login.title'), text: l.t('login.error.rate'), user: null, csrf: '', path: req.path }),
        );
    },
  });
  app.use(['/app/login', '/app/login/resident', '/app/login/demo'], (req: Request, res: Response, next: NextFunction) =>
    req.method === 'POST' ? limiter(req, res, next) : next(),
  );
  // looking codes up at the till is limited per session like the API's per key (guessing codes)
  const till = rateLimit({
    windowMs: 60_000,
    limit: config.partnerCodeRatePerMinute,
    store: ThrottlerStore.of(redis, `${config.queuePrefix}:pages-till`),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => sessionTokenOf(req) ?? 'anonymous',
    handler: (_req, res) => {
      const l = localeOf(res.locals.lang);
      res
        .status(429)
        .type('html')
        .send(views.render('message', { l, title: l.t('till.title'), text: l.t('till.rate'), user: null, csrf: '', path: '/app/till' }));
    },
  });
  app.use('/app/till', (req: Request, res: Response, next: NextFunction) =>
    req.query.code !== undefined || req.method === 'POST' ? till(req, res, next) : next(),
  );
  app.use('/app', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST' || security.check(req)) return next();
    const l = localeOf(res.locals.lang);
    res
      .status(403)
      .type('html')
      .send(
        views.render('message', { l, title: l.t('forbidden.title'), text: l.t('login.error.csrf'), user: null, csrf: '', path: req.path }),
      );
  });
}
