import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import { from, lastValueFrom, Observable } from 'rxjs';
import { AuthenticatedRequest } from '../auth/access.decorators';
import { actorOf } from '../auth/domain/principal';
import { invalidInput } from '../common/errors';
import { ProblemAnswer, ProblemDocument } from '../common/problem';
import { IdempotencyService } from './idempotency.service';
import { requestHash } from './request-hash';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly idempotency: IdempotencyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request & AuthenticatedRequest>();
    const res = http.getResponse<Response>();
    const key = req.header('idempotency-key');
    if (key === undefined) throw invalidInput('Idempotency-Key header is required for this request');
    if (!KEY_PATTERN.test(key)) throw invalidInput('Idempotency-Key must be 1 to 255 printable ASCII characters');

    const path = req.originalUrl.split('?')[0];
    const scope = actorOf(req.principal!);
    const hash = requestHash(req.method, req.originalUrl, req.body);
    return from(
      this.idempotency
        .run(scope, key, hash, path, async () => {
          const body = await lastValueFrom(next.handle());
          return { status: res.statusCode, body };
        })
        .then((answer) => {
          if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
          // an error answer (first time or replayed) goes out through the problem filter
          if (answer.status >= 400) throw new ProblemAnswer(answer.body as ProblemDocument);
          return answer.body;
        }),
    );
  }
}
