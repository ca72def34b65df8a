import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { catchError, from, lastValueFrom, map, Observable } from 'rxjs';
import { AuthenticatedRequest } from '../common/access';
import { actorOf } from '../common/principal';
import { DomainError, invalidInput } from '../common/errors';
import { ProblemAnswer, ProblemDocument } from '../common/problem';
import { IdempotencyContext, IdempotencyService, StoredAnswer } from './idempotency.service';
import { requestHash } from './request-hash';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Handlers marked so run the key's unit of work themselves (see `idempotencyOf`) and return its StoredAnswer. */
export const IDEMPOTENT_IN_HANDLER = 'idempotent:in-handler';
export const IdempotentInHandler = () => SetMetadata(IDEMPOTENT_IN_HANDLER, true);

type IdempotentRequest = Request & AuthenticatedRequest & { idempotency?: IdempotencyContext & { taken?: boolean } };

/** The idempotency context of a request to a handler marked `IdempotentInHandler`. */
export function idempotencyOf(req: Request): IdempotencyContext {
  const context = (req as IdempotentRequest).idempotency;
  if (!context) throw new Error('no idempotency context: is the handler @Idempotent({ inHandler: true })?');
  context.taken = true;
  return context;
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<IdempotentRequest>();
    const res = http.getResponse<Response>();
    const key = req.header('idempotency-key');
    if (key === undefined) throw invalidInput('Idempotency-Key header is required for this request');
    if (!KEY_PATTERN.test(key)) throw invalidInput('Idempotency-Key must be 1 to 255 printable ASCII characters');

    const idempotency: IdempotencyContext = {
      scope: actorOf(req.principal!),
      key,
      hash: requestHash(req.method, req.originalUrl, req.body),
      instance: req.originalUrl.split('?')[0],
    };
    if (this.reflector.get<boolean>(IDEMPOTENT_IN_HANDLER, context.getHandler())) {
      const held: IdempotencyContext & { taken?: boolean } = idempotency;
      req.idempotency = held;
      return next.handle().pipe(
        catchError((error: unknown) => {
          // refused before the handler took the key (the body's validation, say): stored as the
          // key's answer, as every other idempotent route stores its refusals
          if (held.taken || !(error instanceof DomainError)) throw error;
          return from(this.idempotency.run(held.scope, key, held.hash, held.instance, () => Promise.reject(error)));
        }),
        map((answer) => send(res, answer as StoredAnswer)),
      );
    }
    return from(
      this.idempotency
        .run(idempotency.scope, key, idempotency.hash, idempotency.instance, async () => {
          const body: unknown = await lastValueFrom(next.handle());
          return { status: res.statusCode, body };
        })
        .then((answer) => send(res, answer)),
    );
  }
}

/**
 * The answer (first time or replayed) as the response, with the route's own status (a success is
 * stored with it): its stored JSON text as it is, byte for byte; an error answer goes out through
 * the problem filter, which writes the same text.
 */
function send(res: Response, answer: StoredAnswer): unknown {
  if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
  if (answer.status >= 400) throw new ProblemAnswer(JSON.parse(answer.body) as ProblemDocument, answer.body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  return answer.body;
}
