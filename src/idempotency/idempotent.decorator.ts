import { applyDecorators, UseInterceptors } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi';
import { IdempotencyInterceptor, IdempotentInHandler } from './idempotency.interceptor';

/**
 * The endpoint needs an `Idempotency-Key` header: a replay with the same body gets the original
 * status and body (header `Idempotent-Replayed: true`); the same key with another body is
 * 409 idempotency_conflict.
 *
 * With `inHandler`, the handler runs the key's unit of work itself (IdempotencyService.runFast,
 * with `idempotencyOf(req)`) and returns the StoredAnswer: a hot path done in one statement.
 */
export const Idempotent = (options: { inHandler?: boolean } = {}) =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ...(options.inHandler ? [IdempotentInHandler()] : []),
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description: 'A unique key per intended operation (1 to 255 printable characters); retries reuse it',
    }),
    ApiProblems('validation_failed', 'idempotency_conflict'),
  );
