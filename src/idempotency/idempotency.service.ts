import { Injectable } from '@nestjs/common';
import { DomainError, statusOf } from '../common/errors';
import { problemOf } from '../common/problem';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';

export interface StoredAnswer {
  status: number;
  body: unknown;
  replayed: boolean;
}

/**
 * Runs a unit of work at most once per (scope, key). The key's row is claimed, the work done
 * and the answer stored in one database transaction: a concurrent request with the same key
 * blocks on the row until that transaction ends, then replays the answer. A domain error (a
 * 4xx) is an answer too: the work is rolled back to a savepoint and the error stored, so a
 * replay gives the same error rather than trying again. Anything else (a crash, a 5xx) rolls
 * everything back, the key included, and the client may retry.
 */
@Injectable()
export class IdempotencyService {
  constructor(private readonly db: TransactionHost) {}

  run(
    scope: string,
    key: string,
    hash: string,
    instance: string,
    work: () => Promise<{ status: number; body: unknown }>,
  ): Promise<StoredAnswer> {
    return this.db.run(async () => {
      const tx = this.db.client;
      const claimed = await tx.$queryRaw<{ claimed: number }[]>`
        INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (${scope}, ${key}, ${hash})
        ON CONFLICT (scope, key) DO NOTHING RETURNING 1 AS claimed`;
      if (claimed.length === 0) return this.replay(scope, key, hash);

      let answer: { status: number; body: unknown };
      try {
        answer = await this.db.withSavepoint('idempotent_work', work);
      } catch (error) {
        if (!(error instanceof DomainError) || !isClientError(error)) throw error;
        answer = { status: statusOf(error.code), body: problemOf(error.code, error.detail, instance, error.extensions) };
      }
      await tx.idempotencyKey.update({
        where: { scope_key: { scope, key } },
        data: { status: answer.status, response: answer.body as Prisma.InputJsonValue },
      });
      return { ...answer, replayed: false };
    });
  }

  private async replay(scope: string, key: string, hash: string): Promise<StoredAnswer> {
    const row = await this.db.client.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope, key } } });
    if (row.requestHash !== hash) {
      throw new DomainError(
        'idempotency_conflict',
        `Idempotency-Key ${JSON.stringify(key)} was already used with a different request`,
      );
    }
    return { status: row.status!, body: row.response, replayed: true };
  }
}

function isClientError(error: DomainError): boolean {
  const status = statusOf(error.code);
  return status >= 400 && status < 500;
}
