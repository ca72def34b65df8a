import { Injectable } from '@nestjs/common';
import { DomainError, statusOf } from '../common/errors';
import { problemOf } from '../common/problem';
import { TransactionHost } from '../infra/database/transaction-host';

/**
 * An answer as stored under a key: its status and its body as the exact JSON text sent the
 * first time (a replay sends the same bytes; jsonb would have reordered the keys).
 */
export interface StoredAnswer {
  status: number;
  body: string;
  replayed: boolean;
}

/**
 * Renders an answer that was stored not as text but as a reference to the row it is made from
 * (`answer_ref`, written by a one-statement unit of work), exactly as it was first sent.
 */
export type RenderStored = (ref: string) => Promise<string>;

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
export type OneStatement = () => Promise<{
  outcome: 'new' | 'replay';
  requestHash: string;
  status: number | null;
  /** the answer's JSON text; null for a replay of an answer stored as a reference */
  body: string | null;
  answerRef: string | null;
} | null>;

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
    render?: RenderStored,
  ): Promise<StoredAnswer> {
    return this.db.run(async () => {
      const tx = this.db.client;
      const claimed = await tx.$queryRaw<{ claimed: number }[]>`
        INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (${scope}, ${key}, ${hash})
        ON CONFLICT (scope, key) DO NOTHING RETURNING 1 AS claimed`;
      if (claimed.length === 0) return this.replay(scope, key, hash, render);

      let answer: { status: number; body: unknown };
      try {
        answer = await this.db.withSavepoint('idempotent_work', work);
      } catch (error) {
        if (!(error instanceof DomainError) || !isClientError(error)) throw error;
        answer = { status: statusOf(error.code), body: problemOf(error.code, error.detail, instance, error.extensions) };
      }
      // the text sent is the text stored: a replay is byte for byte the first answer
      const text = JSON.stringify(answer.body);
      await tx.idempotencyKey.update({ where: { scope_key: { scope, key } }, data: { status: answer.status, response: text } });
      return { status: answer.status, body: text, replayed: false };
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
    render?: RenderStored,
  ): Promise<StoredAnswer> {
    const fast = await oneStatement();
    if (fast?.outcome === 'new') return { status: fast.status!, body: fast.body!, replayed: false };
    if (fast?.outcome === 'replay' && fast.status !== null) {
      return replayOf(context.key, context.hash, { ...fast, response: fast.body }, render);
    }
    return this.run(context.scope, context.key, context.hash, context.instance, work, render);
  }

  private async replay(scope: string, key: string, hash: string, render?: RenderStored): Promise<StoredAnswer> {
    const row = await this.db.client.idempotencyKey.findUniqueOrThrow({ where: { scope_key: { scope, key } } });
    return replayOf(
      key,
      hash,
      { requestHash: row.requestHash, status: row.status, response: row.response, answerRef: row.answerRef },
      render,
    );
  }
}

/** The answer stored under a key, for a request with this hash: the same request, or a conflict. */
async function replayOf(
  key: string,
  hash: string,
  row: { requestHash: string; status: number | null; response: string | null; answerRef: string | null },
  render?: RenderStored,
): Promise<StoredAnswer> {
  if (row.requestHash !== hash) {
    throw new DomainError('idempotency_conflict', `Idempotency-Key ${JSON.stringify(key)} was already used with a different request`);
  }
  if (row.response !== null) return { status: row.status!, body: row.response, replayed: true };
  if (row.answerRef === null || !render)
    throw new Error(`Idempotency-Key ${JSON.stringify(key)}: an answer stored as a reference, and no renderer`);
  return { status: row.status!, body: await render(row.answerRef), replayed: true };
}

function isClientError(error: DomainError): boolean {
  const status = statusOf(error.code);
  return status >= 400 && status < 500;
}
