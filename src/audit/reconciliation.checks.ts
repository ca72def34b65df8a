import { Prisma } from '../generated/prisma/client';
import { checkpointMoves, latestCheckpoints } from '../ledger/balance-checkpoints.sql';

/**
 * The reconciliation's checks: each one set-based SQL over the whole books, returning the
 * offending rows (at most a few, named) so that a failure says where to look.
 */
export interface CheckDefinition {
  name: string;
  description: string;
  /**
   * Queries returning one row per offence, with a `what` column naming it (a large check is
   * split in parts that run side by side). They carry no LIMIT: the service materialises them
   * and takes the first few, so that PostgreSQL plans for reading everything (a LIMIT makes it
   * pick index scans meant to find the first rows fast, which on a clean ledger, where there are
   * none, visit the whole journal in random order).
   */
  parts: Prisma.Sql[];
  /**
   * The check also takes the offences named for it by a pass that several checks share: the
   * journal is read once for the re-hash and the per-transaction sums together.
   */
  pass?: 'journal';
}

const SAMPLE = 20;
/** At most this many offences are named per check. */
export const OFFENCES_SHOWN = SAMPLE;

/**
 * The journal is re-hashed (and its transactions summed) in this many parts, by ranges of
 * transaction id (random UUIDs, so the parts are even), that run side by side.
 */
export const HASH_PARTS = 8;

function idRanges(parts: number): [string, string | null][] {
  const bounds = Array.from({ length: parts }, (_, i) =>
    i === 0
      ? '00000000-0000-0000-0000-000000000000'
      : `${Math.floor((i * 0x100000000) / parts)
          .toString(16)
          .padStart(8, '0')}-0000-0000-0000-000000000000`,
  );
  return bounds.map((from, i) => [from, bounds[i + 1] ?? null]);
}

/** `column` (a transaction id) in [from, to); `to` null: no upper bound. */
function idBetween(column: Prisma.Sql, from: string, to: string | null): Prisma.Sql {
  return to === null ? Prisma.sql`${column} >= ${from}::uuid` : Prisma.sql`${column} >= ${from}::uuid AND ${column} < ${to}::uuid`;
}

/**
 * What the journal pass names, per transaction `j` (its hash, net sum and assets) and seal entry
 * `e` joined to it: a transaction changed since its seal, and one not balanced (per asset, by its
 * id, when it has several).
 */
const JOURNAL_OFFENCES = Prisma.sql`
      CROSS JOIN LATERAL (VALUES
        ('seals_match_journal', CASE WHEN e.transaction_id IS NOT NULL AND j.hash IS DISTINCT FROM e.hash
          THEN 'transaction ' || e.transaction_id::text || ' changed since seal ' || e.seal_id::text END),
        ('transactions_balanced', CASE
          WHEN j.first_asset = j.last_asset THEN CASE WHEN j.net <> 0 THEN 'transaction ' || j.id::text || ' (' || j.first_asset || ')' END
          WHEN j.first_asset <> j.last_asset THEN (
            SELECT 'transaction ' || j.id::text || ' (' || string_agg(u.asset, ', ' ORDER BY u.asset) || ')'
            FROM (SELECT p.asset FROM ledger_postings p WHERE p.transaction_id = j.id GROUP BY p.asset
                  HAVING sum(CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) <> 0) u)
        END)
      ) AS o(check_name, what)
      WHERE o.what IS NOT NULL`;

/**
 * One part of the journal pass: every transaction in [from, to) of ids read once, for two checks.
 * Its postings are summed per transaction (transactions_balanced) and their text concatenated in
 * posting order for the transaction's hash, which is compared with its seal entry, if any
 * (seals_match_journal). Rows: `check` (the check offended) and `what`.
 *
 * The text is concatenated by feeding the aggregate a sorted subquery (string_agg's own ORDER BY
 * sorts each transaction's postings apart: a third slower). That order holds only without
 * parallel workers (a parallel partial aggregate would combine pieces of a group in any order):
 * the service runs every check with them off. A transaction in one asset (nearly all) is
 * balanced when its signed sum is zero; one in several assets is summed per asset apart, by its
 * id (CASE runs that subquery only for those).
 */
function journalPassPart(from: string, to: string | null, archive: ArchivedMonths | null): Prisma.Sql {
  const inRange = (column: Prisma.Sql) => idBetween(column, from, to);
  return Prisma.sql`
      WITH per_transaction AS (
        SELECT transaction_id, string_agg(text, ';') AS postings, sum(net) AS net, min(asset) AS first_asset, max(asset) AS last_asset
        FROM (
          SELECT p.transaction_id, ledger_posting_text(a.code, p) AS text, p.asset,
                 CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END AS net
          FROM ledger_postings p LEFT JOIN ledger_accounts a ON a.id = p.account_id
          WHERE ${inRange(Prisma.sql`p.transaction_id`)}
          ORDER BY p.transaction_id, p.id
        ) in_order
        GROUP BY transaction_id
      ), journal AS (
        SELECT t.id, encode(sha256(convert_to(ledger_canonical(t, pt.postings), 'UTF8')), 'hex') AS hash,
               pt.net, pt.first_asset, pt.last_asset
        FROM ledger_transactions t LEFT JOIN per_transaction pt ON pt.transaction_id = t.id
        WHERE ${inRange(Prisma.sql`t.id`)}
      )
      SELECT o.check_name AS "check", o.what
      FROM journal j
      FULL JOIN (SELECT transaction_id, seal_id, hash FROM ledger_seal_entries WHERE ${inRange(Prisma.sql`transaction_id`)}) e
        ON e.transaction_id = j.id
      ${JOURNAL_OFFENCES}
        -- the seal entries of archived (detached) transactions stay for the proofs: not offences
        AND (j.id IS NOT NULL OR NOT EXISTS (
          SELECT 1 FROM ledger_transaction_ids i WHERE i.id = e.transaction_id AND ${inArchive(Prisma.sql`i.created_at`, archive)}))`;
}

/** The parts of the pass over the journal that transactions_balanced and seals_match_journal share (archived months left out). */
export function journalPass(archive: ArchivedMonths | null): Prisma.Sql[] {
  return idRanges(HASH_PARTS).map(([from, to]) => journalPassPart(from, to, archive));
}

/** The pass with no month archived. */
export const JOURNAL_PASS: Prisma.Sql[] = journalPass(null);

/**
 * open_holds_match_journal's comparison, after a `journal` CTE of the open holds by (transaction,
 * account, shard, side) with their amount and expiry: every difference with ledger_open_holds.
 */
const OPEN_HOLDS_COMPARED = Prisma.sql`
      SELECT 'hold ' || coalesce(j.transaction_id, h.transaction_id)::text || ' on ' ||
             coalesce(a.code, 'account ' || coalesce(j.account_id, h.account_id)::text) || ' row ' || coalesce(j.shard, h.shard)::text ||
             ' ' || coalesce(j.side, h.side) || CASE
               WHEN h.transaction_id IS NULL THEN ': open in the journal, not listed'
               WHEN j.transaction_id IS NULL THEN ': listed, not open in the journal'
               ELSE ': listed as ' || h.amount::text || ' until ' || h.expires_at::text || ', the journal says ' || j.amount::text || ' until ' || j.expires_at::text
             END AS what
      FROM journal j
      FULL JOIN ledger_open_holds h
        ON h.transaction_id = j.transaction_id AND h.account_id = j.account_id AND h.shard = j.shard AND h.side = j.side
      LEFT JOIN ledger_accounts a ON a.id = coalesce(j.account_id, h.account_id)
      WHERE h.transaction_id IS NULL OR j.transaction_id IS NULL OR h.amount <> j.amount OR h.expires_at <> j.expires_at`;

export const STUCK_AFTER_MINUTES = 15;
export const HOLD_GRACE_MINUTES = 5;

/**
 * The journal's months that are detached (archived, docs/operations.md): months of the id registry
 * (which stays whole) with no attached partition. A full run reads none of their rows and reports
 * them; the balances start from the checkpoint at the end of the latest one.
 */
export interface ArchivedMonths {
  /** oldest first: the month (UTC, YYYY-MM), its bounds and its transactions (counted in the registry) */
  months: { month: string; from: Date; to: Date; transactions: number }[];
  /** the end of the latest archived month */
  to: Date;
}

/** `column` (a moment) falls in an archived month (contiguous months as one range); no archive: false. */
function inArchive(column: Prisma.Sql, archive: ArchivedMonths | null): Prisma.Sql {
  const ranges: { from: Date; to: Date }[] = [];
  for (const m of archive?.months ?? []) {
    const last = ranges[ranges.length - 1];
    if (last && last.to.getTime() === m.from.getTime()) last.to = m.to;
    else ranges.push({ from: m.from, to: m.to });
  }
  if (ranges.length === 0) return Prisma.sql`false`;
  return Prisma.sql`(${Prisma.join(
    ranges.map((r) => Prisma.sql`(${column} >= ${r.from} AND ${column} < ${r.to})`),
    ' OR ',
  )})`;
}

/**
 * balances_match_postings when months are archived: every account's stored balance (its rows
 * summed) against the checkpoint at the end of the latest archived month plus the postings since;
 * that checkpoint missing is an offence of its own (the balances cannot be proven).
 */
function balancesAfterArchive(archive: ArchivedMonths): Prisma.Sql {
  const at = archive.to.toISOString();
  return Prisma.sql`
      SELECT 'the archived months end at ' || ${at} || ' with no balance checkpoint there: the balances cannot be proven' AS what
      WHERE NOT EXISTS (SELECT 1 FROM ledger_checkpoint_months WHERE as_of = ${archive.to})
      UNION ALL (
      WITH expected AS (
        SELECT account_id, sum(d) AS d, sum(c) AS c, sum(pd) AS pd, sum(pc) AS pc FROM (
          SELECT account_id, debits_posted AS d, credits_posted AS c, debits_pending AS pd, credits_pending AS pc
          FROM ledger_balance_checkpoints WHERE as_of = ${archive.to}
          UNION ALL ${checkpointMoves(archive.to, null)}) m
        GROUP BY account_id),
      stored AS (
        SELECT account_id, sum(debits_posted) AS d, sum(credits_posted) AS c, sum(debits_pending) AS pd, sum(credits_pending) AS pc
        FROM account_balances GROUP BY account_id)
      SELECT coalesce(a.code, 'account ' || coalesce(s.account_id, e.account_id)::text) || ' (from the checkpoint at ' || ${at} || ')' AS what
      FROM stored s FULL JOIN expected e ON e.account_id = s.account_id
      LEFT JOIN ledger_accounts a ON a.id = coalesce(s.account_id, e.account_id)
      WHERE EXISTS (SELECT 1 FROM ledger_checkpoint_months WHERE as_of = ${archive.to})
        AND (coalesce(s.d, 0) <> coalesce(e.d, 0) OR coalesce(s.c, 0) <> coalesce(e.c, 0)
          OR coalesce(s.pd, 0) <> coalesce(e.pd, 0) OR coalesce(s.pc, 0) <> coalesce(e.pc, 0)))`;
}

/**
 * The full run's checks over the whole books: every attached month's rows, the archived months
 * (if any) left out where their rows would be read (each place says how).
 */
export function fullChecks(archive: ArchivedMonths | null): CheckDefinition[] {
  const archived = (column: Prisma.Sql) => inArchive(column, archive);
  return [
    {
      name: 'trial_balance_zero',
      description: 'the posted debits of every asset equal its posted credits',
      parts: [
        Prisma.sql`
      SELECT asset || ' off by ' || sum(CASE side WHEN 'D' THEN amount ELSE -amount END)::text AS what
      FROM ledger_postings WHERE NOT pending GROUP BY asset
      HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) <> 0`,
      ],
    },
    {
      name: 'transactions_balanced',
      description: 'every transaction is balanced per asset',
      // summed in the journal pass, in parts by transaction id, with the re-hash
      parts: [],
      pass: 'journal',
    },
    {
      name: 'balances_match_postings',
      description: archive
        ? `every account's stored balance equals its checkpoint at the end of the archived months (${archive.to.toISOString()}) plus its postings since`
        : 'every stored balance equals the sum of its postings (posted and still pending)',
      parts: [
        archive
          ? balancesAfterArchive(archive)
          : Prisma.sql`
      WITH sums AS (
        SELECT p.account_id, p.shard,
          coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'D'), 0) AS d,
          coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'C'), 0) AS c,
          coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'D' AND s.id IS NULL), 0) AS pd,
          coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'C' AND s.id IS NULL), 0) AS pc
        FROM ledger_postings p
        LEFT JOIN ledger_transactions s ON p.pending AND s.pending_id = p.transaction_id
        GROUP BY p.account_id, p.shard
      )
      SELECT coalesce(a.code, 'account ' || coalesce(b.account_id, sums.account_id)::text) || ' row ' || coalesce(b.shard, sums.shard)::text AS what
      FROM account_balances b
      FULL JOIN sums ON sums.account_id = b.account_id AND sums.shard = b.shard
      LEFT JOIN ledger_accounts a ON a.id = coalesce(b.account_id, sums.account_id)
      WHERE coalesce(b.debits_posted, 0) <> coalesce(sums.d, 0) OR coalesce(b.credits_posted, 0) <> coalesce(sums.c, 0)
         OR coalesce(b.debits_pending, 0) <> coalesce(sums.pd, 0) OR coalesce(b.credits_pending, 0) <> coalesce(sums.pc, 0)`,
      ],
    },
    {
      name: 'postings_reference',
      description:
        'every posting names an existing transaction (at that transaction’s moment: one statement writes both, and reads by time rely on it) ' +
        'and account, in the account’s asset; the id registry holds every transaction of the journal at its moment, and nothing else',
      parts: [
        Prisma.sql`
      SELECT 'posting ' || p.id::text AS what
      FROM ledger_postings p
      LEFT JOIN ledger_transactions t ON t.id = p.transaction_id AND t.created_at = p.created_at
      LEFT JOIN ledger_accounts a ON a.id = p.account_id
      WHERE t.id IS NULL OR a.id IS NULL OR a.asset <> p.asset`,
        Prisma.sql`
      SELECT 'transaction ' || coalesce(t.id, i.id)::text
             || CASE WHEN i.id IS NULL THEN ' is not in the id registry at its moment' ELSE ' of the id registry is not in the journal' END AS what
      FROM ledger_transactions t FULL JOIN ledger_transaction_ids i ON i.id = t.id AND i.created_at = t.created_at
      WHERE (t.id IS NULL AND NOT ${archived(Prisma.sql`i.created_at`)}) OR i.id IS NULL`,
      ],
    },
    {
      name: 'no_negative_balances',
      description: 'no account that may not go below zero is below zero',
      parts: [
        Prisma.sql`
      SELECT a.code AS what FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
      WHERE b.floor_zero AND CASE b.normal_side
        WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
        ELSE b.debits_posted - b.credits_posted - b.credits_pending END < 0`,
      ],
    },
    {
      name: 'earn_events_processed',
      description: `every accepted earn event is posted, pending, rejected or revoked (none left unprocessed over ${STUCK_AFTER_MINUTES} minutes), and every accrued one has its transaction`,
      parts: [
        Prisma.sql`
      SELECT 'event ' || e.source_id || '/' || e.external_id || ' ' || e.status AS what
      FROM earn_events e LEFT JOIN ledger_transaction_ids t ON t.id = e.transaction_id
      WHERE (e.status = 'received' AND e.received_at < now() - make_interval(mins => ${STUCK_AFTER_MINUTES}))
         OR (e.status IN ('posted', 'pending', 'revoked') AND t.id IS NULL)`,
      ],
    },
    {
      name: 'codes_match_redemptions',
      description: 'every redemption holds as many codes as it bought, in a state that fits it, and paid its price in the ledger',
      parts: [
        Prisma.sql`
      WITH codes AS (
        SELECT r.id, r.quantity, r.status, r.kind,
          count(c.id) AS n,
          count(c.id) FILTER (WHERE c.status = 'cancelled') AS cancelled,
          count(c.id) FILTER (WHERE c.status IN ('issued', 'redeemed')) AS live
        FROM redemptions r LEFT JOIN item_codes c ON c.redemption_id = r.id
        GROUP BY r.id
      ), paid AS (
        SELECT r.id, coalesce(sum(p.amount) FILTER (WHERE p.side = 'C'), 0) AS credited
        FROM redemptions r LEFT JOIN ledger_postings p ON p.transaction_id = r.transaction_id
        GROUP BY r.id, r.points_spent
      )
      SELECT 'redemption ' || codes.id::text AS what
      FROM codes JOIN paid ON paid.id = codes.id JOIN redemptions r ON r.id = codes.id
      WHERE (codes.kind <> 'DONATION' AND codes.n <> codes.quantity)
         OR (codes.status = 'completed' AND codes.cancelled > 0)
         OR (codes.status = 'cancelled' AND (codes.live > 0 OR r.refund_transaction_id IS NULL))
         OR (paid.credited <> r.points_spent
             AND NOT EXISTS (SELECT 1 FROM ledger_transaction_ids i WHERE i.id = r.transaction_id AND ${archived(Prisma.sql`i.created_at`)}))`,
      ],
    },
    {
      name: 'expired_holds_released',
      description: `every pending transaction past its expiry has been released (within ${HOLD_GRACE_MINUTES} minutes)`,
      parts: [
        Prisma.sql`
      SELECT 'transaction ' || t.id::text AS what FROM ledger_transactions t
      WHERE t.kind = 'pending' AND t.expires_at < now() - make_interval(mins => ${HOLD_GRACE_MINUTES})
        AND NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)`,
      ],
    },
    {
      name: 'lots_match_balances',
      description:
        "every resident's open lots (with what its open holds took from them) sum to its available plus held points, every lot's remaining to its amount less its moves, and every spend's lot records to its amount",
      parts: [
        Prisma.sql`
      WITH lots AS (SELECT account_id, sum(remaining) AS remaining FROM ledger_lots GROUP BY account_id),
      held AS (
        SELECT l.account_id, sum(m.amount) AS amount FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id
        JOIN ledger_transactions t ON t.id = m.transaction_id AND t.kind = 'pending'
        WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
        GROUP BY l.account_id)
      SELECT 'account ' || a.code || ': balance ' || (b.credits_posted - b.debits_posted)::text
             || ', lots ' || (coalesce(lots.remaining, 0) + coalesce(held.amount, 0))::text AS what
      FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id
      LEFT JOIN lots ON lots.account_id = a.id LEFT JOIN held ON held.account_id = a.id
      WHERE a.keeps_lots AND b.credits_posted - b.debits_posted <> coalesce(lots.remaining, 0) + coalesce(held.amount, 0)`,
        Prisma.sql`
      SELECT 'lot ' || l.id::text || ': remaining ' || l.remaining::text || ', moves leave ' || (l.amount - coalesce(m.moved, 0))::text AS what
      FROM ledger_lots l LEFT JOIN (SELECT lot_id, sum(amount) AS moved FROM ledger_lot_moves GROUP BY lot_id) m ON m.lot_id = l.id
      WHERE l.remaining <> l.amount - coalesce(m.moved, 0)
        ${archive ? Prisma.sql`AND l.created_at >= ${archive.to}` : Prisma.empty}`,
        Prisma.sql`
      WITH debits AS (
        SELECT p.transaction_id, p.account_id, sum(p.amount) AS amount FROM ledger_postings p
        JOIN ledger_accounts a ON a.id = p.account_id AND a.keeps_lots
        JOIN ledger_transactions t ON t.id = p.transaction_id AND t.pending_id IS NULL
        WHERE p.side = 'D' GROUP BY 1, 2),
      taken AS (
        SELECT m.transaction_id, l.account_id, sum(m.amount) AS amount FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id
        WHERE m.amount > 0 GROUP BY 1, 2)
      SELECT 'transaction ' || coalesce(d.transaction_id, k.transaction_id)::text || ': debits ' || coalesce(d.amount, 0)::text
             || ', lots taken ' || coalesce(k.amount, 0)::text AS what
      FROM debits d FULL JOIN taken k ON k.transaction_id = d.transaction_id AND k.account_id = d.account_id
      WHERE d.amount IS DISTINCT FROM k.amount`,
      ],
    },
    {
      name: 'open_holds_match_journal',
      description:
        'the list of open holds that expire (ledger_open_holds, which balance reads, the door and the sweeper trust) is exactly what the journal says: every pending transaction with an expiry and no settlement, per balance row, side and amount',
      parts: [
        // ledger_open_holds is an ordinary table (the journal's tables are append-only, it is not):
        // a row missing would keep an expired hold reserving points and the sweeper would never
        // release it, a row too many or with a wrong amount would take points from a balance
        Prisma.sql`
      WITH journal AS (
        SELECT p.transaction_id, p.account_id, p.shard, p.side, sum(p.amount) AS amount, t.expires_at
        FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
        WHERE t.kind = 'pending' AND t.expires_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
        GROUP BY p.transaction_id, p.account_id, p.shard, p.side, t.expires_at
      )
      ${OPEN_HOLDS_COMPARED}`,
      ],
    },
    {
      name: 'seals_match_journal',
      description:
        'every sealed transaction still hashes to what its seal recorded, and every transaction in a sealed window is in its seal',
      // the whole journal hashed set-based with the seals' own canonical definition, in the
      // journal pass (in parts by transaction id)
      pass: 'journal',
      parts: [
        // a seal whose window now holds more transactions than it sealed (counted on the index of
        // creation times), then the ones it lacks; every entry's own transaction is checked above
        Prisma.sql`
        WITH windows AS MATERIALIZED (
          SELECT s.id, s.covers_from, s.covers_to FROM ledger_seals s
          WHERE s.transactions <> (
            SELECT count(*) FROM ledger_transactions t WHERE t.created_at >= s.covers_from AND t.created_at < s.covers_to))
        SELECT 'transaction ' || t.id::text || ' missing from seal ' || w.id::text AS what
        FROM windows w JOIN ledger_transactions t ON t.created_at >= w.covers_from AND t.created_at < w.covers_to
        WHERE NOT EXISTS (SELECT 1 FROM ledger_seal_entries e WHERE e.transaction_id = t.id)`,
      ],
    },
  ];
}

/** The full run's checks with no month archived. */
export const CHECKS: CheckDefinition[] = fullChecks(null);

/** The last check: the balance checkpoints against the journal (the full run; see checkpointChecks). */
export const CHECKPOINTS_CHECK = {
  name: 'checkpoints_match_journal',
  description:
    'every balance checkpoint equals the journal’s sums before its moment (a month’s from the month before it and the month’s postings)',
};

/** A window of the journal by creation time, [from, to) (to null: no end), for the incremental run and the full run's months. */
export interface JournalWindow {
  from: Date;
  to: Date | null;
}

function before(column: Prisma.Sql, to: Date | null): Prisma.Sql {
  return to === null ? Prisma.empty : Prisma.sql`AND ${column} < ${to}`;
}

/**
 * The journal pass (transactions_balanced, seals_match_journal) over the transactions created in a
 * window: found by their index of creation times, their postings through their transactions (and
 * bounded by their own created_at, so that the partitioned journal reads the window's partitions
 * only), compared with the seal entries of the transactions in the window and the entries, of
 * seals beginning in it, whose transaction is gone.
 */
export function windowJournalPass(w: JournalWindow): Prisma.Sql {
  return Prisma.sql`
      WITH per_transaction AS (
        SELECT transaction_id, string_agg(text, ';') AS postings, sum(net) AS net, min(asset) AS first_asset, max(asset) AS last_asset
        FROM (
          SELECT p.transaction_id, ledger_posting_text(a.code, p) AS text, p.asset,
                 CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END AS net
          FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id LEFT JOIN ledger_accounts a ON a.id = p.account_id
          WHERE t.created_at >= ${w.from} ${before(Prisma.sql`t.created_at`, w.to)}
            AND p.created_at >= ${w.from} ${before(Prisma.sql`p.created_at`, w.to)}
          ORDER BY p.transaction_id, p.id
        ) in_order
        GROUP BY transaction_id
      ), journal AS (
        SELECT t.id, encode(sha256(convert_to(ledger_canonical(t, pt.postings), 'UTF8')), 'hex') AS hash,
               pt.net, pt.first_asset, pt.last_asset
        FROM ledger_transactions t LEFT JOIN per_transaction pt ON pt.transaction_id = t.id
        WHERE t.created_at >= ${w.from} ${before(Prisma.sql`t.created_at`, w.to)}
      ), entries AS (
        SELECT e.transaction_id, e.seal_id, e.hash, s.covers_from FROM ledger_seals s JOIN ledger_seal_entries e ON e.seal_id = s.id
        WHERE s.covers_to > ${w.from} ${before(Prisma.sql`s.covers_from`, w.to)}
      )
      SELECT o.check_name AS "check", o.what
      FROM journal j
      FULL JOIN entries e ON e.transaction_id = j.id
      ${JOURNAL_OFFENCES}
        -- an entry whose transaction is not in the window is another window's, unless its
        -- transaction is gone (looked up by id for these few only) and its seal begins in this one
        AND (j.id IS NOT NULL OR (e.covers_from >= ${w.from} ${before(Prisma.sql`e.covers_from`, w.to)}
             AND NOT EXISTS (SELECT 1 FROM ledger_transactions x WHERE x.id = e.transaction_id)))`;
}

/** Transactions in the windows of the seals after `afterSeal` that their seal lacks. */
function missingFromSeals(afterSeal: bigint): Prisma.Sql {
  return Prisma.sql`
        WITH windows AS MATERIALIZED (
          SELECT s.id, s.covers_from, s.covers_to FROM ledger_seals s
          WHERE s.id > ${afterSeal} AND s.transactions <> (
            SELECT count(*) FROM ledger_transactions t WHERE t.created_at >= s.covers_from AND t.created_at < s.covers_to))
        SELECT 'transaction ' || t.id::text || ' missing from seal ' || w.id::text AS what
        FROM windows w JOIN ledger_transactions t ON t.created_at >= w.covers_from AND t.created_at < w.covers_to
        WHERE NOT EXISTS (SELECT 1 FROM ledger_seal_entries e WHERE e.transaction_id = t.id)`;
}

/** What an incremental run starts from: the last passed run's marks. */
export interface IncrementalStart {
  /** its high water: the journal before it was verified */
  from: Date;
  /** the last seal it verified */
  afterSeal: bigint;
  /** the highest posting id when it started */
  afterPosting: bigint;
}

/**
 * The incremental run's checks: the same names as the full run's, each restricted to what changed
 * since the last passed run where that is sound (docs/accounting.md says what each can and cannot
 * catch). The journal pass is windowJournalPass from `from` on.
 */
export function incrementalChecks(s: IncrementalStart): CheckDefinition[] {
  const windowTx = Prisma.sql`SELECT id FROM ledger_transactions WHERE created_at >= ${s.from}`;
  const touched = Prisma.sql`
    SELECT DISTINCT p.account_id FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
    WHERE t.created_at >= ${s.from} AND p.created_at >= ${s.from}
    UNION SELECT DISTINCT p.account_id FROM ledger_transactions t JOIN ledger_transaction_ids h ON h.id = t.pending_id
    JOIN ledger_postings p ON p.transaction_id = h.id AND p.created_at = h.created_at AND p.pending
    WHERE t.pending_id IS NOT NULL AND t.created_at >= ${s.from}`;
  const restricted: Record<string, Partial<CheckDefinition>> = {
    trial_balance_zero: {
      description: 'the posted debits of every asset equal its posted credits (over the balances, which balances_match_postings proves)',
      parts: [
        Prisma.sql`
        SELECT b.asset || ' off by ' || sum(b.debits_posted - b.credits_posted)::text AS what
        FROM (SELECT a.asset, b.debits_posted, b.credits_posted FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id) b
        GROUP BY b.asset HAVING sum(b.debits_posted - b.credits_posted) <> 0`,
      ],
    },
    balances_match_postings: {
      description:
        'every stored balance of an account the journal touched since the last passed run equals its checkpoint plus its postings since',
      parts: [
        Prisma.sql`
        WITH touched AS MATERIALIZED (${touched}),
        expected AS (
          SELECT account_id, sum(d) AS d, sum(c) AS c, sum(pd) AS pd, sum(pc) AS pc FROM (
            ${latestCheckpoints(Prisma.sql`SELECT account_id FROM touched`, s.from)}
            UNION ALL ${checkpointMoves(s.from, null)}) m
          GROUP BY account_id),
        stored AS (
          SELECT b.account_id, sum(b.debits_posted) AS d, sum(b.credits_posted) AS c, sum(b.debits_pending) AS pd, sum(b.credits_pending) AS pc
          FROM account_balances b JOIN touched USING (account_id) GROUP BY b.account_id)
        SELECT coalesce(a.code, 'account ' || coalesce(s.account_id, e.account_id)::text) AS what
        FROM stored s FULL JOIN expected e ON e.account_id = s.account_id
        LEFT JOIN ledger_accounts a ON a.id = coalesce(s.account_id, e.account_id)
        WHERE coalesce(s.d, 0) <> coalesce(e.d, 0) OR coalesce(s.c, 0) <> coalesce(e.c, 0)
           OR coalesce(s.pd, 0) <> coalesce(e.pd, 0) OR coalesce(s.pc, 0) <> coalesce(e.pc, 0)`,
      ],
    },
    postings_reference: {
      description:
        'every posting made since the last passed run names an existing transaction (at its moment) and account, in the account’s asset; ' +
        'every transaction since is in the id registry at its moment (registry rows without a transaction are left to the full run)',
      parts: [
        // The new postings (by id) made in the window find their transactions among the window's
        // (a hash join of the window's months only); one made with an earlier moment (only a
        // tampered one can be) looks its transaction up on its own (one month's index). Neither
        // reads the journal before the window.
        Prisma.sql`
        SELECT 'posting ' || p.id::text AS what
        FROM ledger_postings p
        LEFT JOIN ledger_transactions t ON t.id = p.transaction_id AND t.created_at = p.created_at AND t.created_at >= ${s.from}
        LEFT JOIN ledger_accounts a ON a.id = p.account_id
        WHERE p.id > ${s.afterPosting} AND p.created_at >= ${s.from} AND (t.id IS NULL OR a.id IS NULL OR a.asset <> p.asset)
        UNION ALL
        SELECT 'posting ' || p.id::text AS what
        FROM ledger_postings p
        LEFT JOIN LATERAL (SELECT t.id FROM ledger_transactions t WHERE t.id = p.transaction_id AND t.created_at = p.created_at LIMIT 1) t ON true
        LEFT JOIN ledger_accounts a ON a.id = p.account_id
        WHERE p.id > ${s.afterPosting} AND p.created_at < ${s.from} AND (t.id IS NULL OR a.id IS NULL OR a.asset <> p.asset)`,
        // each of the window's transactions probes the registry's key (LIMIT 1: a probe, never a
        // hash of the whole registry, which grows with the journal)
        Prisma.sql`
        SELECT 'transaction ' || t.id::text || ' is not in the id registry at its moment' AS what
        FROM ledger_transactions t
        LEFT JOIN LATERAL (SELECT i.created_at FROM ledger_transaction_ids i WHERE i.id = t.id LIMIT 1) i ON true
        WHERE t.created_at >= ${s.from} AND i.created_at IS DISTINCT FROM t.created_at`,
      ],
    },
    earn_events_processed: {
      description: `every accepted earn event is posted, pending, rejected or revoked (none left unprocessed over ${STUCK_AFTER_MINUTES} minutes)`,
      parts: [
        Prisma.sql`
        SELECT 'event ' || e.source_id || '/' || e.external_id || ' ' || e.status AS what
        FROM earn_events e WHERE e.status = 'received' AND e.received_at < now() - make_interval(mins => ${STUCK_AFTER_MINUTES})`,
      ],
    },
    expired_holds_released: {
      description: `every listed open hold past its expiry has been released (within ${HOLD_GRACE_MINUTES} minutes); open_holds_match_journal proves the list`,
      parts: [
        Prisma.sql`
        SELECT DISTINCT 'transaction ' || h.transaction_id::text AS what FROM ledger_open_holds h
        WHERE h.expires_at < now() - make_interval(mins => ${HOLD_GRACE_MINUTES})`,
      ],
    },
    lots_match_balances: {
      description:
        "every touched resident's open lots (with what its open holds took from them) sum to its available plus held points, their lots' remaining to amount less moves, and every new spend's lot records to its amount",
      parts: [
        Prisma.sql`
        WITH touched AS MATERIALIZED (${touched}),
        lots AS (
          SELECT l.account_id, sum(l.remaining) AS remaining FROM ledger_lots l
          WHERE l.account_id IN (SELECT account_id FROM touched) AND l.remaining > 0 GROUP BY l.account_id),
        held AS (
          SELECT l.account_id, sum(m.amount) AS amount FROM ledger_lots l JOIN ledger_lot_moves m ON m.lot_id = l.id
          JOIN ledger_transactions t ON t.id = m.transaction_id AND t.kind = 'pending'
          WHERE l.account_id IN (SELECT account_id FROM touched) AND NOT EXISTS (SELECT 1 FROM ledger_transactions x WHERE x.pending_id = t.id)
          GROUP BY l.account_id)
        SELECT 'account ' || a.code || ': balance ' || (b.credits_posted - b.debits_posted)::text
               || ', lots ' || (coalesce(lots.remaining, 0) + coalesce(held.amount, 0))::text AS what
        FROM touched JOIN ledger_accounts a ON a.id = touched.account_id AND a.keeps_lots JOIN account_balances b ON b.account_id = a.id
        LEFT JOIN lots ON lots.account_id = a.id LEFT JOIN held ON held.account_id = a.id
        WHERE b.credits_posted - b.debits_posted <> coalesce(lots.remaining, 0) + coalesce(held.amount, 0)`,
        Prisma.sql`
        WITH window_tx AS MATERIALIZED (${windowTx}),
        changed AS (
          SELECT id FROM ledger_lots WHERE transaction_id IN (SELECT id FROM window_tx)
          UNION SELECT lot_id FROM ledger_lot_moves WHERE transaction_id IN (SELECT id FROM window_tx))
        SELECT 'lot ' || l.id::text || ': remaining ' || l.remaining::text || ', moves leave ' || (l.amount - coalesce(m.moved, 0))::text AS what
        FROM changed JOIN ledger_lots l ON l.id = changed.id
        LEFT JOIN LATERAL (SELECT sum(amount) AS moved FROM ledger_lot_moves WHERE lot_id = l.id) m ON true
        WHERE l.remaining <> l.amount - coalesce(m.moved, 0)`,
        Prisma.sql`
        WITH window_tx AS MATERIALIZED (${windowTx}),
        debits AS (
          SELECT p.transaction_id, p.account_id, sum(p.amount) AS amount FROM window_tx w JOIN ledger_postings p ON p.transaction_id = w.id
          JOIN ledger_accounts a ON a.id = p.account_id AND a.keeps_lots
          JOIN ledger_transactions t ON t.id = p.transaction_id AND t.pending_id IS NULL
          WHERE p.side = 'D' AND p.created_at >= ${s.from} GROUP BY 1, 2),
        taken AS (
          SELECT m.transaction_id, l.account_id, sum(m.amount) AS amount FROM window_tx w JOIN ledger_lot_moves m ON m.transaction_id = w.id
          JOIN ledger_lots l ON l.id = m.lot_id
          WHERE m.amount > 0 GROUP BY 1, 2)
        SELECT 'transaction ' || coalesce(d.transaction_id, k.transaction_id)::text || ': debits ' || coalesce(d.amount, 0)::text
               || ', lots taken ' || coalesce(k.amount, 0)::text AS what
        FROM debits d FULL JOIN taken k ON k.transaction_id = d.transaction_id AND k.account_id = d.account_id
        WHERE d.amount IS DISTINCT FROM k.amount`,
      ],
    },
    open_holds_match_journal: {
      description:
        'every listed open hold is what the journal says, and every hold with an expiry made since the last passed run and not settled is listed',
      parts: [
        Prisma.sql`
        WITH candidates AS MATERIALIZED (
          SELECT DISTINCT transaction_id AS id FROM ledger_open_holds
          UNION SELECT id FROM ledger_transactions WHERE created_at >= ${s.from} AND kind = 'pending' AND expires_at IS NOT NULL),
        journal AS (
          SELECT p.transaction_id, p.account_id, p.shard, p.side, sum(p.amount) AS amount, t.expires_at
          -- each candidate read in its own month (its moment from the id registry), and whether it
          -- was settled from the registry's index of settlements: no look-up in every month's index
          FROM candidates c JOIN ledger_transaction_ids ci ON ci.id = c.id
          JOIN ledger_transactions t ON t.id = ci.id AND t.created_at = ci.created_at
          JOIN ledger_postings p ON p.transaction_id = t.id AND p.created_at = t.created_at
          WHERE t.kind = 'pending' AND t.expires_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ledger_transaction_ids x WHERE x.pending_id = t.id)
          GROUP BY p.transaction_id, p.account_id, p.shard, p.side, t.expires_at)
        ${OPEN_HOLDS_COMPARED}`,
      ],
    },
    seals_match_journal: { parts: [missingFromSeals(s.afterSeal)] },
  };
  return [
    ...CHECKS.map((c) => ({ ...c, ...(restricted[c.name] ?? {}) })),
    {
      ...CHECKPOINTS_CHECK,
      description:
        'the checkpoints the touched balances start from are proven with them (balances_match_postings); the full run verifies every checkpoint',
      parts: [],
    },
  ];
}

/**
 * The checkpoints of a month of the journal (one with transactions), for the full run: the
 * month's checkpoint at its end (if made) must be the latest one at or before its start (`base`;
 * none: the journal's beginning; months with no transaction have none) plus the postings since,
 * and every row a passed run added after the month began and before the next month with
 * transactions (`rowsTo`; null: no end) the same base plus the account's postings up to it.
 * Rows: `check`, `what`.
 */
export function checkpointsOfMonth(w: JournalWindow, base: Date | null, rowsTo: Date | null): Prisma.Sql {
  const since = base ?? new Date(0);
  const monthEnd =
    w.to === null
      ? Prisma.empty
      : Prisma.sql`
      SELECT coalesce(a.code, 'account ' || coalesce(e.account_id, c.account_id)::text) || ' at ' || ${w.to.toISOString()} AS what
      FROM (SELECT account_id, sum(d) AS d, sum(c) AS c, sum(pd) AS pd, sum(pc) AS pc FROM (
              SELECT account_id, debits_posted AS d, credits_posted AS c, debits_pending AS pd, credits_pending AS pc
              FROM ledger_balance_checkpoints WHERE as_of = ${base}
              UNION ALL ${checkpointMoves(since, w.to)}) m GROUP BY account_id) e
      FULL JOIN (SELECT * FROM ledger_balance_checkpoints WHERE as_of = ${w.to}) c ON c.account_id = e.account_id
      LEFT JOIN ledger_accounts a ON a.id = coalesce(e.account_id, c.account_id)
      WHERE EXISTS (SELECT 1 FROM ledger_checkpoint_months WHERE as_of = ${w.to})
        AND (coalesce(c.debits_posted, 0) <> coalesce(e.d, 0) OR coalesce(c.credits_posted, 0) <> coalesce(e.c, 0)
          OR coalesce(c.debits_pending, 0) <> coalesce(e.pd, 0) OR coalesce(c.credits_pending, 0) <> coalesce(e.pc, 0))
      UNION ALL`;
  return Prisma.sql`
    SELECT 'checkpoints_match_journal' AS "check", what FROM (${monthEnd}
      SELECT coalesce(a.code, 'account ' || r.account_id::text) || ' at ' || to_char(r.as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS what
      FROM ledger_balance_checkpoints r
      LEFT JOIN ledger_accounts a ON a.id = r.account_id
      LEFT JOIN ledger_balance_checkpoints b ON b.account_id = r.account_id AND b.as_of = ${base}
      CROSS JOIN LATERAL (
        SELECT sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'D') AS d, sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'C') AS c,
               sum(p.amount) FILTER (WHERE p.pending AND p.side = 'D') AS pd, sum(p.amount) FILTER (WHERE p.pending AND p.side = 'C') AS pc
        FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
        WHERE p.account_id = r.account_id AND p.created_at >= ${since} AND p.created_at < r.as_of
          AND t.created_at >= ${since} AND t.created_at < r.as_of) m
      CROSS JOIN LATERAL (
        SELECT sum(p.amount) FILTER (WHERE p.side = 'D') AS pd, sum(p.amount) FILTER (WHERE p.side = 'C') AS pc
        FROM ledger_transactions s JOIN ledger_postings p ON p.transaction_id = s.pending_id AND p.pending
        WHERE p.account_id = r.account_id AND s.pending_id IS NOT NULL AND s.created_at >= ${since} AND s.created_at < r.as_of) x
      WHERE r.as_of > ${w.from} ${before(Prisma.sql`r.as_of`, rowsTo)}
        AND NOT EXISTS (SELECT 1 FROM ledger_checkpoint_months mo WHERE mo.as_of = r.as_of)
        AND (r.debits_posted <> coalesce(b.debits_posted, 0) + coalesce(m.d, 0) OR r.credits_posted <> coalesce(b.credits_posted, 0) + coalesce(m.c, 0)
          OR r.debits_pending <> coalesce(b.debits_pending, 0) + coalesce(m.pd, 0) - coalesce(x.pd, 0)
          OR r.credits_pending <> coalesce(b.credits_pending, 0) + coalesce(m.pc, 0) - coalesce(x.pc, 0))
    ) o`;
}
