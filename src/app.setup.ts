import { INestApplication, Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import helmet from 'helmet';
import { AppModule } from './app.module';
import { problemOf, writeProblem } from './common/problem';
import { ProblemFilter } from './common/problem.filter';
import { unsafeContent } from './common/unsafe-input';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/config';
import { mountDocs } from './infra/docs/openapi';

const NEST_LOG_LEVELS: Record<AppConfig['logLevel'], LogLevel[] | false> = {
  silent: false,
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** Builds the HTTP application, fully configured but not listening (tests use it as it is). */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: NEST_LOG_LEVELS[config.logLevel],
  });
  configureHttp(app, config);
  app.enableShutdownHooks();
  await app.init();
  return app;
}

function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(helmet());
  app.use(jsonBody(config.bodyLimit));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalPipes(createValidationPipe());
  mountDocs(app);
}

/**
 * JSON bodies up to the configured limit. Parser failures are answered here as problem+json,
 * since they happen before Nest's exception filters can see the request.
 */
function jsonBody(limit: string) {
  const parse = json({ limit, type: ['application/json', 'application/*+json'] });
  const logger = new Logger('HTTP');
  return (req: Request, res: Response, next: NextFunction) =>
    parse(req, res, (error?: unknown) => {
      const instance = req.originalUrl.split('?')[0];
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
}

export type App = INestApplication;
