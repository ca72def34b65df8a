import { INestApplication, INestApplicationContext, Logger } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bull';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { Queue } from 'bull';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ApiClientsService } from './auth/api-clients.service';
import { problemOf, writeProblem } from './common/problem';
import { ProblemFilter } from './common/problem.filter';
import { unsafeContent } from './common/unsafe-input';
import { createValidationPipe } from './common/validation';
import { AppConfig, runsBackgroundWork } from './config/config';
import { EARN_QUEUE } from './earning/earn-queue';
import { mountDocs } from './infra/docs/openapi';
import { securityHeaders } from './infra/http/security-headers';
import { LoggingOptions } from './infra/logging/logging.module';
import { requestIdMiddleware } from './infra/logging/request-id';
import { mountQueueBoard } from './infra/queue/queue-board';
import { stopSchedules } from './infra/schedule/stop-schedules';
import { mountPages } from './pages/pages-http';
import { WEBHOOK_DATA_MODELS, webhooksSection } from './webhooks/dto/webhook-events.dto';

/** Builds the HTTP application, fully configured but not listening (tests use it as it is). */
export async function createApp(config: AppConfig, logging: LoggingOptions = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logging), {
    bodyParser: false,
    bufferLogs: true,
    // a module that cannot start (the data folder in use, the database unreachable) is thrown to
    // the entry point, which says why, rather than aborting the process with a core dump
    abortOnError: false,
    // nor are the start-up lines it buffered printed on stdout by Nest's own logger on the way:
    // they go to the service's log once it has one
    autoFlushLogs: false,
  });
  app.useLogger(app.get(PinoLogger));
  app.flushLogs();
  configureHttp(app, config);
  app.enableShutdownHooks();
  await app.init();
  if (!runsBackgroundWork(config)) stopSchedules(app);
  return app;
}

/** The service without HTTP (worker, CLI): the same modules, configuration and logs. */
export async function createAppContext(config: AppConfig, logging: LoggingOptions = {}): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config, logging), {
    bufferLogs: true,
    abortOnError: false,
    autoFlushLogs: false,
  });
  app.useLogger(app.get(PinoLogger));
  app.flushLogs();
  app.enableShutdownHooks();
  return app;
}

function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  // no ETag on API answers: hashing every body costs each request, and no client makes conditional requests
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  app.use(requestIdMiddleware);
  app.use(securityHeaders());
  mountPages(app, config);
  app.use(jsonBody(config.bodyLimit));
  const queues = config.redisUrl ? [app.get<Queue>(getQueueToken(EARN_QUEUE))] : null;
  const apiClients = app.get(ApiClientsService);
  mountQueueBoard(app.getHttpAdapter().getInstance(), queues, (key) => apiClients.authenticate(key));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalPipes(createValidationPipe());
  mountDocs(app, { extraModels: WEBHOOK_DATA_MODELS, extensions: { 'x-webhooks': webhooksSection() } });
}

/**
 * JSON bodies up to the configured limit. Parser failures are answered here as problem+json,
 * since they happen before Nest's exception filters can see the request.
 */
function jsonBody(limit: string) {
  const parse = json({ limit, type: ['application/json', 'application/*+json'] });
  const logger = new Logger('HTTP');
  return (req: Request, res: Response, next: NextFunction) => {
    // no body (a GET, most of all): nothing to read or check (what the parser would do, said at once)
    if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined) {
      return next();
    }
    return parse(req, res, (error?: unknown) => {
      const instance = req.originalUrl.split('?')[0];
      if (!error && unreadableBody(req, instance)) {
        return writeProblem(
          res,
          problemOf(
            'unsupported_media_type',
            `A request body must be JSON: send it with Content-Type: application/json (this one is ${req.headers['content-type'] ?? 'without a Content-Type'})`,
            instance,
          ),
        );
      }
      if (!error) {
        const unsafe = unsafeContent(req.body);
        return unsafe ? writeProblem(res, problemOf('validation_failed', unsafe, instance)) : next();
      }
      const type = (error as { type?: string }).type;
      if (type === 'entity.too.large') {
        return writeProblem(res, problemOf('payload_too_large', `Request body is larger than ${limit}`, instance));
      }
      if (type === 'entity.parse.failed') {
        return writeProblem(res, problemOf('validation_failed', 'Request body is not valid JSON', instance));
      }
      if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
        return writeProblem(res, problemOf('unsupported_media_type', 'Request body encoding is not supported', instance));
      }
      logger.warn(`Request body refused: ${(error as Error).message}`);
      return writeProblem(res, problemOf('validation_failed', 'Request body could not be read', instance));
    });
  };
}

/**
 * A body the JSON API cannot read: one sent as something other than JSON to /v1 (curl's -d without
 * a Content-Type is form-encoded). It is refused as a whole (415) rather than read as no body at
 * all, which would answer with a list of missing fields. Code pools and award uploads also take
 * text/csv, which their handlers stream themselves; pages under /app take their own forms.
 */
function unreadableBody(req: Request, path: string): boolean {
  // a body is there when it is chunked or has a length (an empty one with a stray Content-Type says nothing)
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (!path.toLowerCase().startsWith('/v1/') || !hasBody || req.is(['application/json', 'application/*+json'])) return false;
  if (/\/codes\/?$/i.test(path) && req.is('text/csv')) return false;
  return !(/^\/v1\/admin\/awards\/?$/i.test(path) && req.is(['text/csv', 'text/plain']));
}

export type App = INestApplication;
