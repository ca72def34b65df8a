import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';

export interface ReconciliationRow {
  id: string;
  status: string;
  trigger: string;
  requestedBy: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  checks: unknown;
  holder?: string | null;
  heartbeatAt?: Date | null;
  retryOf?: string | null;
  scope?: string;
  covered?: unknown;
  progress?: unknown;
}

/** A run's high-water marks, taken when it starts (after sealing): where the next incremental run starts. */
export interface RunMarks {
  /** the end of the last seal: every transaction created before it is committed and sealed */
  highWater: Date;
  lastSeal: bigint | null;
  /** the highest posting id then */
  postingFloor: bigint;
}

/** The last passed run's marks. */
export interface PassedMarks {
  highWater: Date;
  lastSeal: bigint;
  postingFloor: bigint;
}

/** Memory each of the reconciliation's queries may use to hash and sort (it runs at night). */
const RECONCILE_WORK_MEM = '256MB';

/** Reconciliation runs, and the checks' queries over the journal. */
@Injectable()
export class ReconciliationRepository {
  constructor(private readonly db: TransactionHost) {}

  /** A new run: claimed by `holder` at once, or (null) left for a process that runs background work to claim. */
  create(run: {
    id: string;
    trigger: string;
    scope: string;
    requestedBy: string | null;
    scheduledFor: Date | null;
    holder: string | null;
    retryOf?: string;
  }): Promise<ReconciliationRow> {
    return this.db.client.reconciliation.create({
      data: { ...run, status: 'running', heartbeatAt: run.holder ? new Date() : null },
    });
  }

  /** Claims the oldest run nobody has claimed yet, for `holder`; null when there is none. */
  async claimWaiting(holder: string): Promise<string | null> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      UPDATE reconciliations SET holder = ${holder}, heartbeat_at = now()
      WHERE id = (SELECT id FROM reconciliations WHERE status = 'running' AND holder IS NULL
                  ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id::text`;
    return rows[0]?.id ?? null;
  }

  /** Renews a claimed run's heartbeat; false when the run is no longer this holder's running run. */
  async heartbeat(id: string, holder: string): Promise<boolean> {
    const n = await this.db.client.$executeRaw`
      UPDATE reconciliations SET heartbeat_at = now() WHERE id = ${id}::uuid AND holder = ${holder} AND status = 'running'`;
    return n === 1;
  }

  /**
   * Marks the runs whose heartbeat stopped before `staleBefore` (their process died) failed, each
   * with `checks` saying why, and records a run that re-runs each one, unclaimed: one transaction,
   * so that an interrupted run is re-run exactly once. Returns the new runs' ids.
   */
  interrupted(staleBefore: Date, reRunIds: () => string, checks: (row: ReconciliationRow) => unknown[]): Promise<string[]> {
    return this.db.run(async () => {
      const stale = await this.db.client.$queryRaw<ReconciliationRow[]>`
        SELECT id::text, status, trigger, scope, progress, requested_by AS "requestedBy", started_at AS "startedAt",
               finished_at AS "finishedAt", checks, holder, heartbeat_at AS "heartbeatAt"
        FROM reconciliations WHERE status = 'running' AND heartbeat_at < ${staleBefore}
        ORDER BY started_at LIMIT 10 FOR UPDATE SKIP LOCKED`;
      const reRuns: string[] = [];
      for (const row of stale) {
        await this.db.client.reconciliation.update({
          where: { id: row.id },
          data: { status: 'failed', finishedAt: new Date(), checks: checks(row) as Prisma.InputJsonValue },
        });
        const id = reRunIds();
        await this.db.client.reconciliation.create({
          // a full run's finished months are carried over: the re-run goes on from them
          data: {
            id,
            trigger: row.trigger,
            scope: row.scope,
            progress: row.progress ?? {},
            requestedBy: row.requestedBy,
            status: 'running',
            retryOf: row.id,
          },
        });
        reRuns.push(id);
      }
      return reRuns;
    });
  }

  find(id: string): Promise<ReconciliationRow | null> {
    return this.db.client.reconciliation.findUnique({ where: { id } });
  }

  /** Runs newest first, before a (startedAt, id) position. */
  list(before: { startedAt: Date; id: string } | undefined, take: number): Promise<ReconciliationRow[]> {
    return this.db.client.reconciliation.findMany({
      where: before ? { OR: [{ startedAt: { lt: before.startedAt } }, { startedAt: before.startedAt, id: { lt: before.id } }] } : undefined,
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take,
    });
  }

  /** Stores a run's result, unless it was taken from this holder meanwhile (marked interrupted): then null. */
  async finish(
    id: string,
    holder: string,
    status: 'passed' | 'failed',
    checks: unknown[],
    marks: RunMarks,
    covered: unknown,
  ): Promise<ReconciliationRow | null> {
    const { count } = await this.db.client.reconciliation.updateMany({
      where: { id, holder, status: 'running' },
      data: {
        status,
        checks: checks as Prisma.InputJsonValue,
        finishedAt: new Date(),
        heartbeatAt: new Date(),
        highWater: marks.highWater,
        lastSeal: marks.lastSeal,
        postingFloor: marks.postingFloor,
        covered: covered as Prisma.InputJsonValue,
      },
    });
    return count === 1 ? this.find(id) : null;
  }

  /** The marks a run starts from: the end of the last seal, its id, the highest posting id. */
  async marks(): Promise<RunMarks> {
    const [row] = await this.db.client.$queryRaw<{ covers_to: Date | null; id: bigint | null; posting: bigint | null }[]>`
      SELECT (SELECT covers_to FROM ledger_seals ORDER BY id DESC LIMIT 1) AS covers_to,
             (SELECT id FROM ledger_seals ORDER BY id DESC LIMIT 1) AS id,
             (SELECT max(id) FROM ledger_postings) AS posting`;
    return { highWater: row.covers_to ?? new Date(0), lastSeal: row.id, postingFloor: row.posting ?? 0n };
  }

  /** The marks of the passed run that verified the journal furthest, null when no run with marks has passed. */
  async lastPassed(): Promise<PassedMarks | null> {
    const [row] = await this.db.client.$queryRaw<{ high_water: Date; last_seal: bigint | null; posting_floor: bigint | null }[]>`
      SELECT high_water, last_seal, posting_floor FROM reconciliations
      WHERE status = 'passed' AND high_water IS NOT NULL ORDER BY high_water DESC LIMIT 1`;
    return row ? { highWater: row.high_water, lastSeal: row.last_seal ?? 0n, postingFloor: row.posting_floor ?? 0n } : null;
  }

  /** The creation time of the journal's first transaction at or after `from` (null: its first), null when there is none. */
  async firstActivity(from: Date | null = null): Promise<Date | null> {
    const [row] = await this.db.client.$queryRaw<{ at: Date | null }[]>`
      SELECT min(created_at) AS at FROM ledger_transactions WHERE created_at >= ${from ?? new Date(0)}`;
    return row.at;
  }

  /** The latest month's balance checkpoint at or before `at`, null when there is none. */
  async checkpointMonthAtOrBefore(at: Date): Promise<Date | null> {
    const [row] = await this.db.client.$queryRaw<{ as_of: Date | null }[]>`
      SELECT max(as_of) AS as_of FROM ledger_checkpoint_months WHERE as_of <= ${at}`;
    return row.as_of;
  }

  /**
   * The journal's archived (detached) months, oldest first: the months of the id registry (which
   * stays whole) outside every attached partition of ledger_transactions, with their transactions.
   * One read of the registry, restricted to what lies outside the attached months' bounds.
   */
  async archivedMonths(): Promise<{ month: Date; transactions: number }[]> {
    const attached = await this.db.client.$queryRaw<{ from_at: Date; to_at: Date }[]>`
      SELECT from_at, to_at FROM ledger_partitions() WHERE parent = 'ledger_transactions' ORDER BY from_at`;
    // the gaps between the attached months (null: no bound)
    const gaps: [Date | null, Date | null][] = [];
    let cursor: Date | null = null;
    for (const a of attached) {
      if (cursor === null || a.from_at > cursor) gaps.push([cursor, a.from_at]);
      if (cursor === null || a.to_at > cursor) cursor = a.to_at;
    }
    gaps.push([cursor, null]);
    const outside = Prisma.join(
      gaps.map(
        ([from, to]) =>
          Prisma.sql`(${from === null ? Prisma.sql`true` : Prisma.sql`i.created_at >= ${from}`} AND ${to === null ? Prisma.sql`true` : Prisma.sql`i.created_at < ${to}`})`,
      ),
      ' OR ',
    );
    return this.db.client.$queryRaw<{ month: Date; transactions: number }[]>`
      SELECT date_trunc('month', i.created_at, 'UTC') AS month, count(*)::int AS transactions
      FROM ledger_transaction_ids i WHERE ${outside} GROUP BY 1 ORDER BY 1`;
  }

  /** How many transactions, postings and accounts the journal has from `from` on (null: all of it). */
  async windowCounts(from: Date | null): Promise<{ transactions: number; postings: number; accounts: number }> {
    const since = from ?? new Date(0);
    const [row] = await this.db.client.$queryRaw<{ transactions: number; postings: number; accounts: number }[]>`
      SELECT (SELECT count(*) FROM ledger_transactions WHERE created_at >= ${since})::int AS transactions,
             count(*)::int AS postings, count(DISTINCT p.account_id)::int AS accounts
      FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
      WHERE t.created_at >= ${since} AND p.created_at >= ${since}`;
    return row;
  }

  /** Stores a finished month of a full run (its offences) in the run's progress, while the run is still this holder's. */
  async monthDone(id: string, holder: string, month: string, offences: unknown[]): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE reconciliations
      SET progress = jsonb_set(progress, '{months}', coalesce(progress -> 'months', '{}'::jsonb) || jsonb_build_object(${month}::text, ${JSON.stringify(offences)}::jsonb))
      WHERE id = ${id}::uuid AND holder = ${holder} AND status = 'running'`;
  }

  /**
   * The first `shown` offences a check's query finds (of each check, `byCheck`, for a pass that
   * several share), in a transaction of its own with room to hash and sort the journal in memory
   * (RECONCILE_WORK_MEM) and PostgreSQL's parallel workers and JIT off.
   */
  offences<Row extends { what: string }>(sql: Prisma.Sql, byCheck: boolean, shown: number): Promise<Row[]> {
    return this.db.run(
      async () => {
        const tx = this.db.client;
        await tx.$executeRawUnsafe(`SET LOCAL work_mem = '${RECONCILE_WORK_MEM}'`);
        // the checks already run side by side on every core: PostgreSQL's own workers would only
        // build the same hash tables again; and the journal re-hash must not have them at all
        // (it relies on rows reaching string_agg in the order a subquery sorted them)
        await tx.$executeRawUnsafe('SET LOCAL max_parallel_workers_per_gather = 0');
        // nor JIT: compiling each part's expressions (inlined and optimised, since the plans are
        // costly) took longer than it saved (a part of the journal pass: 9.2-10.0 s without, 9.8-11.0 s with)
        await tx.$executeRawUnsafe('SET LOCAL jit = off');
        return tx.$queryRaw<Row[]>(
          byCheck
            ? // rows of a shared pass: the first few of each check
              Prisma.sql`WITH offences AS MATERIALIZED (${sql})
                SELECT "check", what FROM (SELECT "check", what, row_number() OVER (PARTITION BY "check") AS n FROM offences) o
                WHERE n <= ${shown}`
            : Prisma.sql`WITH offences AS MATERIALIZED (${sql}) SELECT what FROM offences LIMIT ${shown}`,
        );
      },
      { timeout: 60 * 60_000, maxWait: 10 * 60_000 },
    );
  }
}
