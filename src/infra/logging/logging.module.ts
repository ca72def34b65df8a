import { DynamicModule, Module } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
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

export function pinoHttpOptions(config: AppConfig): Options {
  return {
    level: config.logLevel,
    // the id the request-id middleware chose (it also echoes it in the response)
    genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? 'none',
    customAttributeKeys: { reqId: 'requestId' },
    // lines logged while handling a request carry its id only, not the whole request again
    quietReqLogger: true,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // the answer's status is what matters; its headers are the same security headers every time
    serializers: { req: loggedRequest, res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }) },
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
