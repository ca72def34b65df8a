import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, ErrorCode } from './errors';
import { ProblemAnswer, problemOf, ProblemDocument, writeProblem } from './problem';
import { maskedUrl } from '../infra/logging/logging.module';

const CODE_BY_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

/**
 * The one place where errors become HTTP answers: RFC 9457 problem+json with a stable `code`.
 * Unexpected errors are logged with their stack and answered with a bare 500, never with
 * internals (stack traces, SQL, driver messages).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    if (res.headersSent) return;
    if (exception instanceof ProblemAnswer && exception.text !== undefined) return writeProblem(res, exception.problem, exception.text);
    writeProblem(res, this.toProblem(exception, req.originalUrl?.split('?')[0]));
  }

  toProblem(exception: unknown, instance?: string): ProblemDocument {
    if (exception instanceof ProblemAnswer) return exception.problem;
    if (exception instanceof DomainError) {
      return problemOf(exception.code, exception.detail, instance, exception.extensions);
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = CODE_BY_HTTP_STATUS[status] ?? (status >= 500 ? 'internal_error' : 'validation_failed');
      const body = exception.getResponse();
      const extensions: Record<string, unknown> = {};
      // Health checks answer 503 with the state of each dependency: worth passing on.
      if (status === 503 && typeof body === 'object' && body && 'details' in body) {
        extensions.checks = body.details;
      }
      const detail = status >= 500 && code === 'internal_error' ? 'The request could not be completed' : messageOf(body, exception.message);
      return problemOf(code, detail, instance, extensions);
    }
    this.logger.error(
      `Unhandled error on ${instance === undefined ? '?' : maskedUrl(instance)}: ${(exception as Error)?.message ?? String(exception)}`,
      (exception as Error)?.stack,
    );
    return problemOf('internal_error', 'The request could not be completed', instance);
  }
}

function messageOf(body: string | object, fallback: string): string {
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.join('; ');
  return fallback;
}
