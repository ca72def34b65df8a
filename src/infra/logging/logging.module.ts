import { DynamicModule, Module } from '@nestjs/common';
import { IncomingMessage, type ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import { type DestinationStream, stdSerializers } from 'pino';
import type { Options } from 'pino-http';
import { AppConfig } from '../../config/config';

/** Credentials never reach a log line, whichever header or field carries them. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'apiKey',
  '*.apiKey',
];

/**
 * A code in a partner's path (`/v1/partner/codes/{code}[/redeem]`): a secret of the resident who
 * holds it. Routes match whatever the letters' case, so the mask does too.
 */
const CODE_IN_PATH = /^(\/v1\/partner\/codes\/)[^/?]+/i;

/** A URL as it may be logged: a code at the till masked. */
export function maskedUrl(url: string): string {
  return url.replace(CODE_IN_PATH, '$1[code]');
}

/** The request as logged: a code at the till is masked in its URL, and its route parameters (the code again) left out. */
export function loggedRequest<T extends { url?: string; params?: unknown }>(req: T): T {
  if (!req.url || !CODE_IN_PATH.test(req.url)) return req;
  return { ...req, url: maskedUrl(req.url), params: undefined };
}

/** Probes and scrapes, many a minute, would drown the lines that matter. */
const QUIET_PATHS = new Set(['/health/live', '/health/ready', '/metrics']);

/** A request as its line shows it: pino's standard request fields, a code at the till masked. */
const requestLine = (req: IncomingMessage) => loggedRequest(stdSerializers.req(req));

/**
 * One line per request, written when it is answered, with the request, its answer's status and
 * its id; lines logged while handling it carry its id only.
 *
 * pino-http binds every request to a child logger under its `req` attribute, and a child logger
 * serialises what it binds at once: the whole request, its headers redacted, for each request,
 * although most lines are never written (at LOG_LEVEL=warn a 200 writes none, and a till's
 * validations are thousands a second). So the attribute bound on arrival is the request's id
 * (`customAttributeKeys.req`, serialised to `req.id`): the one child logger per request is the
 * one its lines are logged with. The request itself is added to its line's object and serialised
 * by pino only if the line is written (serializers get the raw values: `wrapSerializers: false`).
 */
export function pinoHttpOptions(config: AppConfig): Options {
  return {
    level: config.logLevel,
    // the id the request-id middleware chose (it also echoes it in the response)
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? 'none',
    customAttributeKeys: { req: 'requestId' },
    wrapSerializers: false,
    serializers: {
      requestId: (req: IncomingMessage & { id?: string }) => req.id,
      req: requestLine,
      // the answer's status is what matters; its headers are the same security headers every time
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      err: stdSerializers.err,
    },
    customSuccessObject: (req: IncomingMessage, _res: ServerResponse, line: object) => ({ req, ...line }),
    customErrorObject: (req: IncomingMessage, _res: ServerResponse, _error: Error, line: object) => ({ req, ...line }),
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    autoLogging: { ignore: (req: IncomingMessage) => QUIET_PATHS.has((req.url ?? '').split('?')[0]) },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
      error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
  };
}

export interface LoggingOptions {
  /** where the JSON lines go (stdout unless given: the CLI uses stderr, tests a capture) */
  destination?: DestinationStream;
}

/**
 * Structured JSON logs (pino) for the whole process: Nest's own messages and every service's
 * Logger, and one line per HTTP request; lines logged while handling a request carry its
 * `requestId`. LOG_LEVEL sets the level (`silent` for none).
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, options: LoggingOptions = {}): DynamicModule {
    const http = pinoHttpOptions(config);
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot({ pinoHttp: options.destination ? [http, options.destination] : http })],
    };
  }
}
