import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';
import { ACCOUNT_SELECTORS } from './domain/account';

/** A group of accounts the daily figures are kept by. */
export type DailyKind = 'issued' | 'resident' | 'debt' | 'redeemed' | 'partner' | 'charity' | 'other';

/**
 * One line of a period's figures: a day's (or, `day` null, everything before the period's) POINTS
 * movements of a group. `issued` is every programme account but `programme:expired` (accruals,
 * awards, adjustments, less revocations), as the liability report counts it.
 */
export interface DailyFigureRow {
  /** `YYYY-MM-DD`, or null for the sum of every day before the period */
  day: string | null;
  kind: DailyKind;
  /** a partner's or fund's account code for `redeemed` and `charity`; '' for the other kinds */
  account: string;
  /** whether these are the movements of transactions of type `expiry` */
  expiry: boolean;
  debits: string;
  credits: string;
}

/** Moscow's zone for the calendar of the daily figures (the programme's days are Moscow's). */
const ZONE = 'Europe/Moscow';
const HOUR_MS = 3_600_000;
/** Kept hours older than this are dropped: their day has long been kept whole. */
const KEEP_HOURS_MS = 3 * 24 * HOUR_MS;

/** The start of the hour `at` is in (UTC hours are Moscow's: its offset is whole hours). */
export function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * The finance console's daily figures (ledger_daily_totals): per closed Moscow day, asset, group
 * of accounts and transaction type, the posted debits and credits. A day is filled once, from the
 * journal's transactions of that day (the created_at index bounds the read to that day's rows),
 * after it has closed. The open day is read from its closed hours, kept the same way
 * (ledger_hourly_totals), and the journal of its current hour aggregated live in the same shape,
 * so that a read costs what an hour holds, not what the day does. Nothing here runs on the
 * ledger's write path.
 */
@Injectable()
export class DailyTotalsRepository {
  constructor(private readonly db: TransactionHost) {}

  /** The closed days (up to `lastClosed`, from the journal's first day) whose figures are not kept yet. */
  async unfilledDays(lastClosed: string): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<{ day: string }[]>`
      SELECT to_char(d, 'YYYY-MM-DD') AS day
      FROM generate_series(
             (SELECT (min(created_at) AT TIME ZONE ${ZONE})::date FROM ledger_transactions)::timestamp,
             ${lastClosed}::date::timestamp, interval '1 day') AS d
      WHERE NOT EXISTS (SELECT 1 FROM ledger_daily_closed c WHERE c.day = d::date)
      ORDER BY d`;
    return rows.map((r) => r.day);
  }

  /**
   * Keeps one closed day's figures, once: the day's marker is inserted first, so that of two
   * processes filling it the second waits for the first and then does nothing. Returns whether
   * this call filled it.
   */
  fillDay(day: string, start: Date, end: Date): Promise<boolean> {
    return this.db.run(
      async () => {
        const claimed = await this.db.client.$queryRaw<{ day: Date }[]>`
          INSERT INTO ledger_daily_closed (day) VALUES (${day}::date) ON CONFLICT DO NOTHING RETURNING day`;
        if (claimed.length === 0) return false;
        await this.db.client.$executeRaw`
          INSERT INTO ledger_daily_totals (day, asset, kind, account, tx_type, debits, credits, postings)
          SELECT day, asset, kind, account, tx_type, debits, credits, postings FROM (${this.aggregate(start, end)}) figures`;
        return true;
      },
      { maxWait: 15_000, timeout: 10 * 60_000 },
    );
  }

  /** The closed hours from `start` (the open day's first) to `end` whose figures are not kept yet. */
  async unfilledHours(start: Date, end: Date): Promise<Date[]> {
    const rows = await this.db.client.$queryRaw<{ hour: Date }[]>`
      SELECT h AS hour FROM generate_series(${start}::timestamptz, ${end}::timestamptz - interval '1 hour', interval '1 hour') AS h
      WHERE NOT EXISTS (SELECT 1 FROM ledger_hourly_closed c WHERE c.hour = h)
      ORDER BY h`;
    return rows.map((r) => r.hour);
  }

  /**
   * Keeps one closed hour's figures, once (claimed by its row in ledger_hourly_closed, as a day
   * is), and drops the kept hours of days closed long ago: they are read only while their day is
   * open. Returns whether this call filled it.
   */
  fillHour(hour: Date): Promise<boolean> {
    const end = new Date(hour.getTime() + HOUR_MS);
    return this.db.run(
      async () => {
        const claimed = await this.db.client.$queryRaw<{ hour: Date }[]>`
          INSERT INTO ledger_hourly_closed (hour) VALUES (${hour}) ON CONFLICT DO NOTHING RETURNING hour`;
        if (claimed.length === 0) return false;
        await this.db.client.$executeRaw`
          INSERT INTO ledger_hourly_totals (hour, asset, kind, account, tx_type, debits, credits, postings)
          SELECT ${hour}::timestamptz, asset, kind, account, tx_type, sum(debits), sum(credits), sum(postings)
          FROM (${this.aggregate(hour, end)}) figures GROUP BY asset, kind, account, tx_type`;
        const stale = new Date(hour.getTime() - KEEP_HOURS_MS);
        await this.db.client.$executeRaw`DELETE FROM ledger_hourly_totals WHERE hour < ${stale}`;
        await this.db.client.$executeRaw`DELETE FROM ledger_hourly_closed WHERE hour < ${stale}`;
        return true;
      },
      { maxWait: 15_000, timeout: 60_000 },
    );
  }

  /**
   * A period's POINTS figures by day and group, every day before `from` summed in one line (day
   * null): the kept days before `liveFrom` and, when the period reaches it, the open day's kept
   * hours before `hoursUntil` and the journal since `hoursUntil` aggregated on the spot. Every
   * hour of the open day before `hoursUntil` must be kept (see unfilledHours). One query.
   */
  async figures(from: string, to: string, liveFrom: string, liveStart: Date, hoursUntil: Date): Promise<DailyFigureRow[]> {
    const s = ACCOUNT_SELECTORS;
    const kept = Prisma.sql`SELECT day, asset, kind, account, tx_type, debits, credits FROM ledger_daily_totals
                            WHERE day < ${liveFrom}::date AND day <= ${to}::date`;
    const source =
      to >= liveFrom
        ? Prisma.sql`${kept}
                     UNION ALL SELECT (hour AT TIME ZONE ${ZONE})::date AS day, asset, kind, account, tx_type, debits, credits
                       FROM ledger_hourly_totals WHERE hour >= ${liveStart} AND hour < ${hoursUntil}
                     UNION ALL SELECT day, asset, kind, account, tx_type, debits, credits FROM (${this.aggregate(hoursUntil)}) live
                     WHERE day <= ${to}::date`
        : kept;
    const rows = await this.db.client.$queryRaw<
      { day: string | null; kind: DailyKind; account: string; expiry: boolean; debits: string; credits: string }[]
    >`
      SELECT CASE WHEN day < ${from}::date THEN NULL ELSE to_char(day, 'YYYY-MM-DD') END AS day,
             CASE WHEN kind = 'other' THEN 'issued' ELSE kind END AS kind,
             CASE WHEN kind IN ('redeemed', 'charity') THEN account ELSE '' END AS account,
             tx_type = 'expiry' AS expiry, sum(debits)::text AS debits, sum(credits)::text AS credits
      FROM (${source}) f
      WHERE asset = 'POINTS'
        AND (kind IN ('issued', 'resident', 'redeemed', 'charity')
             OR (kind = 'other' AND starts_with(account, ${s.programmePrefix}) AND account <> ${s.expired}))
      GROUP BY 1, 2, 3, 4`;
    return rows;
  }

  /**
   * The journal's posted movements from `start` (to `end`), by Moscow day, asset, group of
   * accounts and transaction type. The transactions are found by their created_at index, so the
   * work is bounded by the rows of those days, not by the journal.
   */
  private aggregate(start: Date, end?: Date): Prisma.Sql {
    const s = ACCOUNT_SELECTORS;
    return Prisma.sql`
      SELECT (t.created_at AT TIME ZONE ${ZONE})::date AS day, p.asset, g.kind, g.account, t.type AS tx_type,
             coalesce(sum(p.amount) FILTER (WHERE p.side = 'D'), 0) AS debits,
             coalesce(sum(p.amount) FILTER (WHERE p.side = 'C'), 0) AS credits,
             count(*) AS postings
      FROM ledger_transactions t
      -- a posting's created_at is its transaction's (one statement writes both): the day's partitions only
      JOIN ledger_postings p ON p.transaction_id = t.id AND p.created_at = t.created_at
      JOIN ledger_accounts a ON a.id = p.account_id
      CROSS JOIN LATERAL (
        SELECT k.kind, CASE WHEN k.kind IN ('resident', 'debt') THEN '' ELSE a.code END AS account
        FROM (SELECT CASE
                WHEN a.code = ${s.issued} THEN 'issued'
                WHEN starts_with(a.code, ${s.residentPrefix}) AND right(a.code, ${s.debtSuffix.length}::int) = ${s.debtSuffix} THEN 'debt'
                WHEN starts_with(a.code, ${s.residentPrefix}) THEN 'resident'
                WHEN starts_with(a.code, ${s.partnerPrefix}) AND right(a.code, ${s.redeemedSuffix.length}::int) = ${s.redeemedSuffix} THEN 'redeemed'
                WHEN starts_with(a.code, ${s.partnerPrefix}) THEN 'partner'
                WHEN starts_with(a.code, ${s.charityPrefix}) THEN 'charity'
                ELSE 'other' END AS kind) k
      ) g
      WHERE t.created_at >= ${start} ${end ? Prisma.sql`AND t.created_at < ${end}` : Prisma.empty}
        AND p.created_at >= ${start} ${end ? Prisma.sql`AND p.created_at < ${end}` : Prisma.empty} AND NOT p.pending
      GROUP BY 1, 2, 3, 4, 5`;
  }
}
