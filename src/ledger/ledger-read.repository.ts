import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { ReadReplica } from '../infra/database/read-replica';
import { ACCOUNT_SELECTORS, Side } from './domain/account';
import { BalanceSums } from './domain/balance';
import { postingIdFloor } from './balance-checkpoints.sql';
import { EXPIRED_HOLDS_OF_SQL, EXPIRED_LOTS_OF_SQL } from './ledger.repository';

/**
 * Every account's posted debits (d) and credits (c) of the postings created up to `asOf`, as
 * (account_id, d, c): the latest month's checkpoint at or before it plus the postings since, by
 * their own creation times (a posting's is its transaction's, written by the same statement and
 * proved by the reconciliation's postings_reference): the month's postings, not the journal's,
 * and not joined to their transactions (the join cost six times the sum: 1.04 s against 0.16 s
 * over 200,000 postings). `month` is that checkpoint's moment (null: none; see
 * checkpointMonth), a constant of the query.
 */
function postedAsOf(asOf: Date, month: Date | null): Prisma.Sql {
  const since = month ?? new Date(0);
  return Prisma.sql`
    SELECT account_id, sum(d) AS d, sum(c) AS c FROM (
      SELECT account_id, debits_posted AS d, credits_posted AS c FROM ledger_balance_checkpoints WHERE as_of = ${month}
      UNION ALL
      SELECT p.account_id, coalesce(sum(p.amount) FILTER (WHERE p.side = 'D'), 0), coalesce(sum(p.amount) FILTER (WHERE p.side = 'C'), 0)
      FROM ledger_postings p
      WHERE p.created_at >= ${since} AND p.created_at <= ${asOf} AND NOT p.pending
      GROUP BY p.account_id) m
    GROUP BY account_id`;
}

/**
 * The query of `LedgerReadRepository.balanceSumsOf` ($1 the accounts' codes, $2 their asset):
 * each account found by its key, then its balance rows by theirs (one probe each, whatever the statistics say). Joined instead, the
 * planner went by the tables' statistics, which a bulk award outdates within minutes (a million
 * accounts opened, and autovacuum's analyse late or off): it guessed hundreds of balance rows
 * an account and read the whole of account_balances in parallel workers for every balance read.
 */
export const BALANCE_SUMS_SQL = `
    SELECT a.code,
           (s.debits_posted + CASE WHEN s.next_expiry <= now() THEN (${EXPIRED_LOTS_OF_SQL}a.id) ELSE 0 END)::text AS debits_posted,
           s.credits_posted::text AS credits_posted,
           (s.debits_pending - x.debits)::text AS debits_pending, (s.credits_pending - x.credits)::text AS credits_pending
    FROM (SELECT DISTINCT c.code FROM unnest($1::text[]) AS c(code)) c
    CROSS JOIN LATERAL (SELECT a.id, a.code FROM ledger_accounts a WHERE a.code = c.code AND a.asset = $2 OFFSET 0) a
    CROSS JOIN LATERAL (SELECT count(*) AS n, sum(b.debits_posted) AS debits_posted, sum(b.credits_posted) AS credits_posted,
                               sum(b.debits_pending) AS debits_pending, sum(b.credits_pending) AS credits_pending,
                               max(b.next_expiry) AS next_expiry
                        FROM account_balances b WHERE b.account_id = a.id) s
    CROSS JOIN LATERAL (${EXPIRED_HOLDS_OF_SQL}a.id) x
    WHERE s.n > 0`;

/**
 * The postings of these transactions, created in [first, last), in journal order. A posting's
 * created_at is its transaction's (one statement writes both), so the read is bounded to the
 * months the transactions are in (partition pruning). Each transaction's postings are probed by
 * its id, and each posting's account by its key, whatever the statistics say: joined instead, a
 * month's partition not analysed since it filled (autovacuum late or off) was read whole for every
 * journal page, in parallel workers (36 ms for a page of 100 at 122,000 postings, against 7 ms; on
 * a replica sharing the cores with an earn ingest, 60-200 ms a page and half the ingest's rate).
 */
export function postingsOfSql(ids: string[], first: Date, last: Date): Prisma.Sql {
  return Prisma.sql`
      SELECT p.transaction_id::text, (SELECT a.code FROM ledger_accounts a WHERE a.id = p.account_id) AS code,
             p.asset, p.side, p.amount::text, p.pending
      FROM unnest(${ids}::uuid[]) AS x(id)
      CROSS JOIN LATERAL (
        SELECT p.* FROM ledger_postings p
        WHERE p.transaction_id = x.id AND p.created_at >= ${first} AND p.created_at < ${last} OFFSET 0) p
      ORDER BY p.id`;
}

export interface JournalFilter {
  from?: Date;
  to?: Date;
  type?: string;
  /** an account code, matched exactly */
  account?: string;
  /** accruals from this participation service */
  source?: string;
  /** transactions that touched an account starting with one of these prefixes, or one of these exact codes */
  accountPrefixes?: string[];
  accounts?: string[];
  afterSeq?: bigint;
}

export interface JournalRow {
  id: string;
  seq: bigint;
  type: string;
  kind: string;
  pendingId: string | null;
  reversesId: string | null;
  metadata: Record<string, unknown>;
  description: string | null;
  createdAt: Date;
  postings: { account: string; asset: string; side: Side; amount: Decimal; pending: boolean }[];
}

export interface StatementRow {
  postingId: bigint;
  transactionId: string;
  type: string;
  description: string | null;
  side: Side;
  amount: Decimal;
  createdAt: Date;
}

export interface HistoryRow {
  postingId: bigint;
  transactionId: string;
  type: string;
  side: Side;
  amount: Decimal;
  balanceAfter: Decimal | null;
  /** its own, or (a hold's posting, a reversal) the description of the transaction it settles or reverses */
  description: string | null;
  /** the type of the transaction it settles or reverses */
  originType: string | null;
  createdAt: Date;
}

export interface TrialBalanceRow {
  account: string;
  asset: string;
  normalSide: Side;
  debits: Decimal;
  credits: Decimal;
}

/** The programme's POINTS balances by kind of account, each in its normal direction. */
/** The programme's liability as of a moment: totals by kind of account, and the residents' lots by month of expiry. */
export interface LiabilityRows {
  totals: { outstanding: Decimal; pending: Decimal; issued: Decimal; redeemed: Decimal; donated: Decimal; expired: Decimal; debt: Decimal };
  /** month `YYYY-MM` (Moscow) of the lots' expiry; null: lots without expiry */
  byExpiryMonth: { month: string | null; amount: Decimal }[];
}

export interface ProgrammeTotalsRow {
  kind: 'issued' | 'redeemed' | 'charity' | 'resident';
  /** the account, for a charity fund; null for the other kinds (summed over their accounts) */
  account: string | null;
  balance: Decimal;
  /** resident accounts with a positive balance */
  holders: number;
}

export interface ProgrammeDayRow {
  date: string;
  issued: Decimal;
  redeemed: Decimal;
  donated: Decimal;
}

/**
 * The ledger's read side: the queries that audit, public statistics and finance views make over
 * the journal and the balances. Reads only, through the open transaction if there is one (they
 * could run on a read replica). Which accounts a query selects comes from the caller or from
 * `ACCOUNT_SELECTORS` as literal prefixes and suffixes, compared with `starts_with` and `right`:
 * never a LIKE pattern, in which a `_` of an id would be a wildcard.
 */
@Injectable()
export class LedgerReadRepository {
  // reads that may lag: on the replica when one is configured and in step (see ReadReplica)
  constructor(private readonly db: ReadReplica) {}

  async searchJournal(filter: JournalFilter, take: number): Promise<JournalRow[]> {
    const where: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (filter.from) where.push(Prisma.sql`t.created_at >= ${filter.from}`);
    if (filter.to) where.push(Prisma.sql`t.created_at < ${filter.to}`);
    if (filter.type) where.push(Prisma.sql`t.type = ${filter.type}`);
    if (filter.afterSeq !== undefined) where.push(Prisma.sql`t.seq > ${filter.afterSeq}`);
    if (filter.source) where.push(Prisma.sql`t.metadata->>'sourceId' = ${filter.source}`);
    if (filter.accountPrefixes || filter.accounts) {
      where.push(Prisma.sql`EXISTS (SELECT 1 FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                    WHERE p.transaction_id = t.id AND p.created_at = t.created_at
                                      AND (EXISTS (SELECT 1 FROM unnest(${filter.accountPrefixes ?? []}::text[]) AS x(prefix) WHERE starts_with(a.code, x.prefix))
                                           OR a.code = ANY(${filter.accounts ?? []}::text[])))`);
    }
    if (filter.account) {
      where.push(Prisma.sql`EXISTS (SELECT 1 FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                    WHERE p.transaction_id = t.id AND p.created_at = t.created_at AND a.code = ${filter.account})`);
    }
    const rows = await this.db.client.$queryRaw<
      {
        id: string;
        seq: bigint;
        type: string;
        kind: string;
        pending_id: string | null;
        reverses_id: string | null;
        metadata: unknown;
        description: string | null;
        created_at: Date;
      }[]
    >`SELECT t.id::text, t.seq, t.type, t.kind, t.pending_id::text, t.reverses_id::text, t.metadata, t.description, t.created_at
      FROM ledger_transactions t WHERE ${Prisma.join(where, ' AND ')} ORDER BY t.seq LIMIT ${take}`;
    const postings = await this.postingsOf(rows);
    return rows.map((r) => ({
      id: r.id,
      seq: BigInt(r.seq),
      type: r.type,
      kind: r.kind,
      pendingId: r.pending_id,
      reversesId: r.reverses_id,
      metadata: (r.metadata ?? {}) as Record<string, unknown>,
      description: r.description,
      createdAt: r.created_at,
      postings: postings.get(r.id) ?? [],
    }));
  }

  /** The postings of these transactions (see postingsOfSql). */
  private async postingsOf(transactions: { id: string; created_at: Date }[]): Promise<Map<string, JournalRow['postings']>> {
    const result = new Map<string, JournalRow['postings']>();
    if (transactions.length === 0) return result;
    const ids = transactions.map((t) => t.id);
    const times = transactions.map((t) => t.created_at.getTime());
    // a Date keeps milliseconds and the journal microseconds: the bounds are widened to the millisecond
    const [first, last] = [new Date(Math.min(...times)), new Date(Math.max(...times) + 1)];
    const rows = await this.db.client.$queryRaw<
      { transaction_id: string; code: string; asset: string; side: Side; amount: string; pending: boolean }[]
    >(postingsOfSql(ids, first, last));
    for (const r of rows) {
      const list = result.get(r.transaction_id) ?? [];
      list.push({ account: r.code, asset: r.asset, side: r.side, amount: new Decimal(r.amount), pending: r.pending });
      result.set(r.transaction_id, list);
    }
    return result;
  }

  /** An account's posted entries in (from, to], in journal order, a page at a time. */
  async statementPage(accountId: bigint, from: Date, to: Date, afterPostingId: bigint, take: number): Promise<StatementRow[]> {
    const rows = await this.db.client.$queryRaw<
      { id: bigint; transaction_id: string; type: string; description: string | null; side: Side; amount: string; created_at: Date }[]
    >`SELECT p.id, p.transaction_id::text, t.type, t.description, p.side, p.amount::text, p.created_at
      FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id AND t.created_at = p.created_at
      WHERE p.account_id = ${accountId} AND NOT p.pending AND p.created_at > ${from} AND p.created_at <= ${to}
        AND p.id > greatest(${afterPostingId}::bigint, ${postingIdFloor(from, new Date(from.getTime() - 31 * 86_400_000))})
        AND t.created_at > ${from} AND t.created_at <= ${to}
      ORDER BY p.id LIMIT ${take}`;
    return rows.map((r) => ({
      postingId: BigInt(r.id),
      transactionId: r.transaction_id,
      type: r.type,
      description: r.description,
      side: r.side,
      amount: new Decimal(r.amount),
      createdAt: r.created_at,
    }));
  }

  /**
   * An account's posted entries, newest first, before a posting id (the cursor). `account` (its
   * code) decides where it is read: on the primary right after a write to it (read-your-writes).
   */
  async history(account: string, accountId: bigint, beforeId: bigint | undefined, take: number): Promise<HistoryRow[]> {
    const client = await this.db.clientAfterWritesTo(account);
    const rows = await client.$queryRaw<RawHistory[]>`
      SELECT p.id, p.transaction_id::text AS transaction_id, t.type, p.side, p.amount::text AS amount,
             p.balance_after::text AS balance_after, coalesce(t.description, o.description) AS description,
             o.type AS origin_type, p.created_at
      FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id AND t.created_at = p.created_at
      LEFT JOIN ledger_transaction_ids oi ON oi.id = coalesce(t.pending_id, t.reverses_id)
      LEFT JOIN ledger_transactions o ON o.id = oi.id AND o.created_at = oi.created_at
      WHERE p.account_id = ${accountId} AND NOT p.pending AND (${beforeId ?? null}::bigint IS NULL OR p.id < ${beforeId ?? null}::bigint)
      ORDER BY p.id DESC LIMIT ${take}`;
    return rows.map((r) => ({
      postingId: BigInt(r.id),
      transactionId: r.transaction_id,
      type: r.type,
      side: r.side as Side,
      amount: new Decimal(r.amount),
      balanceAfter: r.balance_after === null ? null : new Decimal(r.balance_after),
      description: r.description,
      originType: r.origin_type,
      createdAt: r.created_at,
    }));
  }

  /**
   * The running balances of these accounts (summed over their balance rows, less the holds that
   * have expired and are not released yet); accounts never used are absent.
   */
  async balanceSumsOf(codes: string[], asset: string): Promise<Map<string, BalanceSums>> {
    if (codes.length === 0) return new Map();
    // on the driver: a resident's balance, the read their app makes most
    const rows = await this.db.read<RawSums & { code: string }>('ledger_balance_sums', BALANCE_SUMS_SQL, [codes, asset]);
    return new Map(
      rows.map((r) => [
        r.code,
        {
          debitsPosted: new Decimal(r.debits_posted),
          creditsPosted: new Decimal(r.credits_posted),
          debitsPending: new Decimal(r.debits_pending),
          creditsPending: new Decimal(r.credits_pending),
        },
      ]),
    );
  }

  /**
   * The programme's liability as of a moment, from the journal and the lots' moves: POINTS
   * balances by kind of account (posted up to then, each in its normal direction), the residents'
   * pending credits then, and what their lots held then by month of expiry (Moscow calendar; the
   * month of the last moment a lot counts). A hold open then still counts in its lots.
   */
  async liability(asOf: Date): Promise<LiabilityRows> {
    const s = ACCOUNT_SELECTORS;
    const [totals] = await this.db.client.$queryRaw<Record<keyof LiabilityRows['totals'], string>[]>`
      WITH b AS (
        SELECT a.code, a.keeps_lots, a.floor_zero, CASE a.normal_side WHEN 'D' THEN sums.d - sums.c ELSE sums.c - sums.d END AS posted
        FROM (${postedAsOf(asOf, await this.checkpointMonth(asOf))}) sums JOIN ledger_accounts a ON a.id = sums.account_id
        WHERE a.asset = 'POINTS')
      SELECT coalesce(sum(posted) FILTER (WHERE keeps_lots), 0)::text AS outstanding,
             coalesce(sum(posted) FILTER (WHERE starts_with(code, ${s.programmePrefix}) AND code <> ${s.expired}), 0)::text AS issued,
             coalesce(sum(posted) FILTER (WHERE starts_with(code, ${s.partnerPrefix}) AND right(code, ${s.redeemedSuffix.length}::int) = ${s.redeemedSuffix}), 0)::text AS redeemed,
             coalesce(sum(posted) FILTER (WHERE starts_with(code, ${s.charityPrefix})), 0)::text AS donated,
             coalesce(sum(posted) FILTER (WHERE code = ${s.expired}), 0)::text AS expired,
             coalesce(sum(posted) FILTER (WHERE floor_zero AND NOT keeps_lots), 0)::text AS debt,
             (SELECT coalesce(sum(p.amount), 0) FROM ledger_postings p
              JOIN ledger_accounts a ON a.id = p.account_id AND a.keeps_lots
              JOIN ledger_transactions h ON h.id = p.transaction_id AND h.created_at = p.created_at
              WHERE p.pending AND p.side = 'C' AND p.created_at <= ${asOf} AND NOT coalesce(h.expires_at <= ${asOf}, false)
                AND NOT EXISTS (SELECT 1 FROM ledger_transactions x WHERE x.pending_id = h.id AND x.created_at <= ${asOf}))::text AS pending
      FROM b`;
    const months = await this.db.client.$queryRaw<{ month: string | null; amount: string }[]>`
      WITH moved AS (
        SELECT m.lot_id, sum(m.amount) AS amount FROM ledger_lot_moves m JOIN ledger_transactions t ON t.id = m.transaction_id
        -- a move is never older than its transaction: both bounds hold, and prune
        WHERE m.created_at <= ${asOf} AND t.created_at <= ${asOf}
          AND NOT (t.kind = 'pending' AND NOT EXISTS (
            SELECT 1 FROM ledger_transactions x WHERE x.pending_id = t.id AND x.created_at <= ${asOf}))
        GROUP BY m.lot_id)
      SELECT to_char((l.expires_at - interval '1 microsecond') AT TIME ZONE 'Europe/Moscow', 'YYYY-MM') AS month,
             sum(l.amount - coalesce(moved.amount, 0))::text AS amount
      FROM ledger_lots l LEFT JOIN moved ON moved.lot_id = l.id
      WHERE l.created_at <= ${asOf} AND l.amount - coalesce(moved.amount, 0) > 0
      GROUP BY 1 ORDER BY 1 NULLS LAST`;
    return {
      totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, new Decimal(v)])) as LiabilityRows['totals'],
      byExpiryMonth: months.map((m) => ({ month: m.month, amount: new Decimal(m.amount) })),
    };
  }

  /**
   * The latest month's checkpoint at or before `asOf` (null: none), read first so that the sums
   * after it are planned with their bounds known: the planner prunes to those months and sizes
   * them right (with the month as a subquery it planned every month and, guessing the range a
   * share of the whole journal, read the month whole instead of by its index of creation times).
   */
  private async checkpointMonth(asOf: Date): Promise<Date | null> {
    const [row] = await this.db.client.$queryRaw<{ as_of: Date | null }[]>`
      SELECT max(as_of) AS as_of FROM ledger_checkpoint_months WHERE as_of <= ${asOf}`;
    return row.as_of;
  }

  /** Posted debits and credits of every account, now (running balances) or as of a moment (journal). */
  async trialBalance(asOf?: Date): Promise<TrialBalanceRow[]> {
    const rows = asOf
      ? await this.db.client.$queryRaw<RawTrialRow[]>`
          WITH sums AS (${postedAsOf(asOf, await this.checkpointMonth(asOf))})
          SELECT a.code, a.asset, a.normal_side, sums.d::text AS debits, sums.c::text AS credits
          FROM sums JOIN ledger_accounts a ON a.id = sums.account_id
          WHERE sums.d <> 0 OR sums.c <> 0
          ORDER BY a.asset, a.code`
      : await this.db.client.$queryRaw<RawTrialRow[]>`
          SELECT a.code, a.asset, a.normal_side, sum(b.debits_posted)::text AS debits, sum(b.credits_posted)::text AS credits
          FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
          GROUP BY a.id, a.code, a.asset, a.normal_side
          HAVING sum(b.debits_posted) <> 0 OR sum(b.credits_posted) <> 0
          ORDER BY a.asset, a.code`;
    return rows.map((r) => ({
      account: r.code,
      asset: r.asset,
      normalSide: r.normal_side as Side,
      debits: new Decimal(r.debits),
      credits: new Decimal(r.credits),
    }));
  }

  /**
   * POINTS balances now, by kind: `programme:issued`, every partner's `redeemed` account summed,
   * each charity fund, and residents' own accounts (not their debts) summed with how many hold points.
   */
  async programmeTotals(): Promise<ProgrammeTotalsRow[]> {
    const rows = await this.db.client.$queryRaw<
      { kind: ProgrammeTotalsRow['kind']; code: string | null; balance: string; holders: number }[]
    >`
      WITH k AS (${this.accountKinds()})
      SELECT k.kind, CASE WHEN k.kind = 'charity' THEN k.code END AS code,
             sum(CASE k.normal_side WHEN 'D' THEN b.debits_posted - b.credits_posted ELSE b.credits_posted - b.debits_posted END)::text AS balance,
             count(DISTINCT k.id) FILTER (WHERE k.kind = 'resident' AND b.credits_posted - b.debits_posted > 0)::int AS holders
      FROM account_balances b JOIN k ON k.id = b.account_id
      GROUP BY 1, 2`;
    return rows.map((r) => ({ kind: r.kind, account: r.code, balance: new Decimal(r.balance), holders: Number(r.holders) }));
  }

  /** Points issued, redeemed with partners and donated per day (Moscow calendar) over the last `days` days. */
  async programmePerDay(days: number): Promise<ProgrammeDayRow[]> {
    const rows = await this.db.client.$queryRaw<{ day: string; issued: string; redeemed: string; donated: string }[]>`
      WITH k AS (${this.accountKinds()})
      SELECT to_char(p.created_at AT TIME ZONE 'Europe/Moscow', 'YYYY-MM-DD') AS day,
        coalesce(sum(CASE WHEN k.kind = 'issued' THEN (CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) END), 0)::text AS issued,
        coalesce(sum(CASE WHEN k.kind = 'redeemed' THEN (CASE p.side WHEN 'C' THEN p.amount ELSE -p.amount END) END), 0)::text AS redeemed,
        coalesce(sum(CASE WHEN k.kind = 'charity' THEN (CASE p.side WHEN 'C' THEN p.amount ELSE -p.amount END) END), 0)::text AS donated
      FROM ledger_postings p JOIN k ON k.id = p.account_id
      WHERE NOT p.pending AND p.created_at >= now() - make_interval(days => ${days}) AND k.kind IN ('issued', 'redeemed', 'charity')
      GROUP BY 1 ORDER BY 1`;
    return rows.map((d) => ({
      date: d.day,
      issued: new Decimal(d.issued),
      redeemed: new Decimal(d.redeemed),
      donated: new Decimal(d.donated),
    }));
  }

  /**
   * One transaction with its postings, what caused it and what settled or reversed it: the earn
   * event (by the source and external id in its own or its origin's metadata: a unique index),
   * the redemption (by its id in the metadata) with the item's title and the codes issued, and
   * the transaction that reversed it (a unique index). Two queries.
   */
  async transactionTrace(id: string): Promise<TransactionTraceRow | null> {
    const [row] = await this.db.client.$queryRaw<RawTrace[]>`
      WITH t AS (
        SELECT t.*, coalesce(o.metadata, '{}'::jsonb) || t.metadata AS m, o.type AS origin_type
        FROM ledger_transactions t
        LEFT JOIN ledger_transaction_ids oi ON oi.id = coalesce(t.pending_id, t.reverses_id)
        LEFT JOIN ledger_transactions o ON o.id = oi.id AND o.created_at = oi.created_at
        -- the month it is in, from the id registry: one partition read
        WHERE t.id = ${id}::uuid AND t.created_at = (SELECT i.created_at FROM ledger_transaction_ids i WHERE i.id = ${id}::uuid))
      SELECT t.id::text, t.seq, t.type, t.kind, t.pending_id::text, t.reverses_id::text, t.metadata, t.description, t.created_at,
             t.origin_type,
             (SELECT r.id::text FROM ledger_transaction_ids r WHERE r.reverses_id = t.id) AS reversed_by,
             e.source_id, e.external_id, e.type AS event_type, e.status AS event_status, e.resident_id AS event_resident,
             d.id::text AS redemption_id, d.item_id, d.status AS redemption_status, d.resident_id AS redemption_resident,
             d.points_spent::text AS redemption_points, i.title AS item_title,
             (SELECT array_agg(c.code ORDER BY c.id) FROM item_codes c WHERE c.redemption_id = d.id) AS codes
      FROM t
      LEFT JOIN earn_events e ON e.source_id = t.m->>'sourceId' AND e.external_id = t.m->>'externalId'
      LEFT JOIN redemptions d ON d.id = CASE WHEN t.m->>'redemptionId' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                             THEN (t.m->>'redemptionId')::uuid END
      LEFT JOIN catalogue_items i ON i.id = d.item_id`;
    if (!row) return null;
    const postings = await this.postingsOf([row]);
    return {
      id: row.id,
      seq: BigInt(row.seq),
      type: row.type,
      kind: row.kind,
      pendingId: row.pending_id,
      reversesId: row.reverses_id,
      metadata: (row.metadata ?? {}) as Record<string, unknown>,
      description: row.description,
      createdAt: row.created_at,
      postings: postings.get(row.id) ?? [],
      originType: row.origin_type,
      reversedBy: row.reversed_by,
      earnEvent: row.source_id
        ? {
            sourceId: row.source_id,
            externalId: row.external_id!,
            type: row.event_type!,
            status: row.event_status!,
            residentId: row.event_resident!,
          }
        : null,
      redemption: row.redemption_id
        ? {
            id: row.redemption_id,
            itemId: row.item_id!,
            itemTitle: row.item_title ?? '',
            status: row.redemption_status!,
            residentId: row.redemption_resident!,
            pointsSpent: new Decimal(row.redemption_points!),
            codes: row.codes ?? [],
          }
        : null,
    };
  }

  /**
   * Accounts whose code is `exact` or starts with `prefix`, in code order, `take` at most, with
   * their posted debits and credits now. One query.
   */
  async findAccounts(exact: string[], prefix: string, take: number): Promise<AccountFound[]> {
    const rows = await this.db.client.$queryRaw<{ code: string; asset: string; normal_side: string; debits: string; credits: string }[]>`
      SELECT a.code, a.asset, a.normal_side,
             coalesce((SELECT sum(b.debits_posted) FROM account_balances b WHERE b.account_id = a.id), 0)::text AS debits,
             coalesce((SELECT sum(b.credits_posted) FROM account_balances b WHERE b.account_id = a.id), 0)::text AS credits
      FROM ledger_accounts a
      WHERE a.code = ANY(${exact}::text[]) OR (${prefix} <> '' AND a.code >= ${prefix} AND starts_with(a.code, ${prefix}))
      ORDER BY a.code, a.asset LIMIT ${take}`;
    return rows.map((r) => ({
      account: r.code,
      asset: r.asset,
      normalSide: r.normal_side as Side,
      debits: new Decimal(r.debits),
      credits: new Decimal(r.credits),
    }));
  }

  /** The POINTS accounts that programme totals count, each with its kind. */
  private accountKinds(): Prisma.Sql {
    const s = ACCOUNT_SELECTORS;
    return Prisma.sql`
      SELECT * FROM (
        SELECT a.id, a.code, a.normal_side,
          CASE WHEN a.code = ${s.issued} THEN 'issued'
               WHEN starts_with(a.code, ${s.partnerPrefix}) AND right(a.code, ${s.redeemedSuffix.length}::int) = ${s.redeemedSuffix} THEN 'redeemed'
               WHEN starts_with(a.code, ${s.charityPrefix}) THEN 'charity'
               WHEN starts_with(a.code, ${s.residentPrefix}) AND right(a.code, ${s.debtSuffix.length}::int) <> ${s.debtSuffix} THEN 'resident'
          END AS kind
        FROM ledger_accounts a WHERE a.asset = 'POINTS'
      ) accounts WHERE kind IS NOT NULL`;
  }
}

export interface TransactionTraceRow extends JournalRow {
  /** the type of the transaction it settles or reverses */
  originType: string | null;
  /** the transaction that reversed it */
  reversedBy: string | null;
  earnEvent: { sourceId: string; externalId: string; type: string; status: string; residentId: string } | null;
  redemption: {
    id: string;
    itemId: string;
    itemTitle: string;
    status: string;
    residentId: string;
    pointsSpent: Decimal;
    codes: string[];
  } | null;
}

export interface AccountFound {
  account: string;
  asset: string;
  normalSide: Side;
  debits: Decimal;
  credits: Decimal;
}

interface RawTrace {
  id: string;
  seq: bigint;
  type: string;
  kind: string;
  pending_id: string | null;
  reverses_id: string | null;
  metadata: unknown;
  description: string | null;
  created_at: Date;
  origin_type: string | null;
  reversed_by: string | null;
  source_id: string | null;
  external_id: string | null;
  event_type: string | null;
  event_status: string | null;
  event_resident: string | null;
  redemption_id: string | null;
  item_id: string | null;
  redemption_status: string | null;
  redemption_resident: string | null;
  redemption_points: string | null;
  item_title: string | null;
  codes: string[] | null;
}

interface RawHistory {
  id: bigint;
  transaction_id: string;
  type: string;
  side: string;
  amount: string;
  balance_after: string | null;
  description: string | null;
  origin_type: string | null;
  created_at: Date;
}

interface RawSums {
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
}

interface RawTrialRow {
  code: string;
  asset: string;
  normal_side: string;
  debits: string;
  credits: string;
}
