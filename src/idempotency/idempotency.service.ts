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

/** An idempotent request: who sent it (scope), its key, its hash and where it was sent. */
export interface IdempotencyContext {
  scope: string;
  key: string;
  hash: string;
  instance: string;
}

/**
 * A whole unit of work in one statement that also claims the key and stores the answer: what
 * it did ('new'), or the key's row when it was used before ('replay'); null when it could not
 * finish and rolled everything back, key included, for the general path to take over.
 */
export type OneStatement = () => Promise<{ outcome: 'new' | 'replay'; requestHash: string; status: number | null; body: unknown } | null>;

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

  /**
   * As `run`, trying `oneStatement` first: the common case costs one round trip, and anything
   * it leaves (a refusal, say) goes through `run`, which records it as the key's answer.
   */
  async runFast(
    context: IdempotencyContext,
    oneStatement: OneStatement,
    work: () => Promise<{ status: number; body: unknown }>,
  ): Promise<StoredAnswer> {
    const fast = await oneStatement();
    if (fast?.outcome === 'new') return { status: fast.status!, body: fast.body, replayed: false };
    if (fast?.outcome === 'replay' && fast.status !== null) {
      return replayOf(context.key, context.hash, { requestHash: fast.requestHash, status: fast.status, response: fast.body });
    }
    return this.run(context.scope, context.key, context.hash, context.instance, work);
  }

  private async replay(scope: string, key: string, hash: string): Promise<StoredAnswer> {
    return replayOf(key, hash, await this.db.client.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope, key } } }));
  }
}

/** The answer stored under a key, for a request with this hash: the same request, or a conflict. */
function replayOf(key: string, hash: string, row: { requestHash: string; status: number | null; response: unknown }): StoredAnswer {
  if (row.requestHash !== hash) {
    throw new DomainError('idempotency_conflict', `Idempotency-Key ${JSON.stringify(key)} was already used with a different request`);
  }
  return { status: row.status!, body: row.response, replayed: true };
}

function isClientError(error: DomainError): boolean {
  const status = statusOf(error.code);
  return status >= 400 && status < 500;
}
