import { Prisma } from '../generated/prisma/client';

/**
 * The SQL that defines a balance checkpoint (ledger_balance_checkpoints), shared by the ledger that
 * writes and reads them and the reconciliation that verifies them.
 */

/**
 * What the postings of [from, to) (to null: no end) add to each account's checkpoint, as
 * (account_id, d, c, pd, pc): posted debits and credits, pending ones, less the pending ones a
 * settlement (settle or void) in the range ended.
 * A posting's created_at is its transaction's (ledger_record writes both from one now()): the
 * postings are found through their transactions' index of creation times, and bounded by their
 * own created_at too, so that the partitioned journal reads only the partitions of the range; a
 * settled hold's postings (in any month before) through the id registry's moment of the hold, so
 * that each is looked up in its own month rather than in every month's index.
 */
export function checkpointMoves(from: Date, to: Date | null): Prisma.Sql {
  const before = (column: Prisma.Sql) => (to === null ? Prisma.empty : Prisma.sql`AND ${column} < ${to}`);
  return Prisma.sql`
  SELECT p.account_id,
         sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'D') AS d,
         sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'C') AS c,
         sum(p.amount) FILTER (WHERE p.pending AND p.side = 'D') AS pd,
         sum(p.amount) FILTER (WHERE p.pending AND p.side = 'C') AS pc
  FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
  WHERE t.created_at >= ${from} ${before(Prisma.sql`t.created_at`)} AND p.created_at >= ${from} ${before(Prisma.sql`p.created_at`)}
  GROUP BY p.account_id
  UNION ALL
  SELECT p.account_id, NULL, NULL,
         -sum(p.amount) FILTER (WHERE p.side = 'D'), -sum(p.amount) FILTER (WHERE p.side = 'C')
  FROM ledger_transactions s JOIN ledger_transaction_ids h ON h.id = s.pending_id
  JOIN ledger_postings p ON p.transaction_id = h.id AND p.created_at = h.created_at AND p.pending
  WHERE s.pending_id IS NOT NULL AND s.created_at >= ${from} ${before(Prisma.sql`s.created_at`)}
  GROUP BY p.account_id`;
}

/**
 * Each of these accounts' latest checkpoint row at or before `at` (accounts without one: none),
 * as (account_id, d, c, pd, pc). `accounts` is a query of account ids.
 */
export function latestCheckpoints(accounts: Prisma.Sql, at: Date): Prisma.Sql {
  return Prisma.sql`
  SELECT b.* FROM (${accounts}) touched(account_id), LATERAL (
    SELECT c.account_id, c.debits_posted AS d, c.credits_posted AS c, c.debits_pending AS pd, c.credits_pending AS pc
    FROM ledger_balance_checkpoints c WHERE c.account_id = touched.account_id AND c.as_of <= ${at}
    ORDER BY c.as_of DESC LIMIT 1) b`;
}

/**
 * A posting id below every posting created after `at` (0 when there is none): the highest id of
 * the last transaction created a minute or more before it. A posting created after `at` was
 * inserted after it, and every posting of a transaction that began a minute before `at` was
 * inserted before it (ledger_record fails a call whose postings come more than 30 s after its
 * start: migration 20261210100000_door_call_bound). So `p.id > floor` lets an account's postings
 * since a moment be read on the index of (account, id) from there, without its history.
 */
export function postingIdFloor(at: Date, notBefore?: Date): Prisma.Sql {
  // a posting's created_at is its transaction's: the join reads that transaction's month only.
  // The bounds are constants of the query (a minute before `at` computed here: timestamptz minus
  // an interval is not immutable, so the planner would plan every month and prune them only when
  // the query starts, 6-9 ms of planning a query on a 43-month journal against 1-2 ms on an
  // 8-month one); `notBefore` bounds the look-up below (no transaction from then on: 0)
  const before = new Date(at.getTime() - 60_000);
  const from = (column: Prisma.Sql) => (notBefore ? Prisma.sql`AND ${column} >= ${notBefore}` : Prisma.empty);
  return Prisma.sql`coalesce((
    SELECT max(fp.id) FROM (
      SELECT ft.id, ft.created_at FROM ledger_transactions ft WHERE ft.created_at < ${before} ${from(Prisma.sql`ft.created_at`)}
      ORDER BY ft.created_at DESC LIMIT 1) ft
    JOIN ledger_postings fp ON fp.transaction_id = ft.id AND fp.created_at = ft.created_at
      AND fp.created_at < ${before} ${from(Prisma.sql`fp.created_at`)}), 0)`;
}
