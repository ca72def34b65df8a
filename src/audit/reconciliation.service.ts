import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import pLimit from 'p-limit';
import { randomUUID } from 'node:crypto';
import { notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { APP_CONFIG, AppConfig, runsBackgroundWork } from '../config/config';
import { Prisma } from '../generated/prisma/client';
import { isUniqueViolation } from '../infra/database/prisma.service';
import { MetricsService } from '../infra/metrics/metrics.service';
import { PROCESS_IDENTITY } from '../infra/schedule/process-identity';
import { BalanceCheckpointsService, monthStart, nextMonthStart } from '../ledger/balance-checkpoints.service';
import {
  ArchivedMonths,
  CheckDefinition,
  CHECKPOINTS_CHECK,
  CHECKS,
  checkpointsOfMonth,
  fullChecks,
  IncrementalStart,
  incrementalChecks,
  journalPass,
  JournalWindow,
  OFFENCES_SHOWN,
  windowJournalPass,
} from './reconciliation.checks';
import { ReconciliationRepository, ReconciliationRow, RunMarks } from './reconciliation.repository';
import { SealService } from './seal.service';

/** An offence found by a pass several checks share, with the check it belongs to. */
type PassOffence = { check: string; what: string };

export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
  offending?: string[];
  /** how long the check took */
  durationMs?: number;
}

export type ReconciliationScope = 'incremental' | 'full';
export const RECONCILIATION_SCOPES: ReconciliationScope[] = ['incremental', 'full'];

/** What a run read: the journal's window (or all of it, month by month) and how much of it. */
export interface RunCoverage {
  /** the journal from this moment on (null: from its beginning) ... */
  from: string | null;
  /** ... verified up to this one (the end of the last seal): the next incremental run starts here; later rows were read too */
  to: string;
  /** an incremental run with no passed run before it checks everything */
  effectivelyFull: boolean;
  transactions: number;
  postings: number;
  /** accounts whose balances were proven (touched in the window; every account in a full run) */
  accounts: number;
  /** seals whose chain and entries were verified */
  seals: { first: string | null; last: string | null };
  /**
   * a full run's months (UTC, YYYY-MM), each verified on its own; those carried over from the
   * interrupted run it re-runs; and those archived (detached: not read, with their transactions
   * as the id registry counts them; the balances start from the checkpoint at their end)
   */
  months?: { verified: string[]; carriedOver: string[]; archived?: { month: string; transactions: number }[] };
}

/** A full run's progress: the offences of each finished month, per check, kept so that its re-run goes on from them. */
export interface FullRunProgress {
  months?: Record<string, { check: string; what: string }[]>;
}

export interface ReconciliationRun {
  id: string;
  status: 'running' | 'passed' | 'failed';
  trigger: 'scheduled' | 'manual';
  scope: ReconciliationScope;
  /** null while it runs (and for runs before scopes) */
  covered: RunCoverage | null;
  requestedBy: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  checks: CheckResult[];
  /** the interrupted run this one runs again */
  retryOf: string | null;
}

/**
 * The reconciliation proves the books: every check is set-based SQL over the whole journal. A
 * run is stored and readable by auditors; a failed one is loud (an error log line and status
 * failed). Nightly on RECONCILE_CRON (Europe/Moscow): each replica's schedule fires, and the
 * run's unique `scheduled_for` lets only one of them run it.
 */
/** At most this many of the pool's connections work for a reconciliation at once: the rest serve requests. */
const RECONCILE_CONNECTIONS = 3;
/** A running run's process renews its heartbeat this often ... */
export const RUN_HEARTBEAT_MS = 10_000;
/** ... and a run whose heartbeat is older than this was interrupted (its process died): failed, and run again. */
export const RUN_STALE_MS = 60_000;
/** How often a process that runs background work looks for runs to claim or take over. */
const RUN_POLL_MS = 5_000;

@Injectable()
export class ReconciliationService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Reconciliation');
  /** the checks' queries, at most RECONCILE_CONNECTIONS at once, in the order they come */
  private readonly slots = pLimit(RECONCILE_CONNECTIONS);
  private claiming = false;

  constructor(
    private readonly repository: ReconciliationRepository,
    private readonly scheduler: SchedulerRegistry,
    private readonly seals: SealService,
    private readonly checkpoints: BalanceCheckpointsService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PROCESS_IDENTITY) private readonly me: string,
  ) {}

  onApplicationBootstrap(): void {
    const job = CronJob.from({
      cronTime: this.config.reconcileCron,
      timeZone: 'Europe/Moscow',
      onTick: () => void this.runScheduled(new Date()),
      start: true,
    });
    this.scheduler.addCronJob('reconciliation', job);
    const full = CronJob.from({
      cronTime: this.config.reconcileFullCron,
      timeZone: 'Europe/Moscow',
      onTick: () => void this.runScheduled(new Date(), 'full'),
      start: true,
    });
    this.scheduler.addCronJob('reconciliation-full', full);
    // (an API process's schedules are removed after init: its runs are claimed by the workers)
    const timer = setInterval(() => void this.claimRuns().catch((e: Error) => this.logger.warn(`run claims: ${e.message}`)), RUN_POLL_MS);
    timer.unref();
    this.scheduler.addInterval('reconciliation-runs', timer);
  }

  /**
   * Starts a run and returns at once. A process that runs background work claims it and runs it
   * here; an API process leaves it to a worker, which claims it within RUN_POLL_MS. Either way the
   * run's heartbeat says that it is alive: a run whose process dies is failed and run again.
   */
  async start(requestedBy: string, scope: ReconciliationScope = 'incremental'): Promise<ReconciliationRun> {
    const here = runsBackgroundWork(this.config);
    const run = await this.create('manual', scope, requestedBy, null, here ? this.me : null);
    if (here) void this.execute(run.id);
    return run;
  }

  /**
   * The runs' takeover, in a process that runs background work: a run whose heartbeat stopped is
   * marked failed (the check `interrupted` says by which process and when) and recorded again,
   * and the runs nobody has claimed are claimed and run here, one after another. Returns the ids
   * of the runs it ran.
   */
  async claimRuns(now = new Date()): Promise<string[]> {
    if (this.claiming) return [];
    this.claiming = true;
    try {
      const reRuns = await this.repository.interrupted(new Date(now.getTime() - RUN_STALE_MS), randomUUID, (row) => [
        {
          name: 'interrupted',
          passed: false,
          detail:
            `the process running this run (${row.holder ?? 'unknown'}) stopped: no heartbeat since ` +
            `${row.heartbeatAt?.toISOString() ?? 'its start'}; it is run again`,
        },
      ]);
      for (const id of reRuns) this.logger.warn(`an interrupted reconciliation is run again as ${id}`);
      const ran: string[] = [];
      for (let id = await this.repository.claimWaiting(this.me); id; id = await this.repository.claimWaiting(this.me)) {
        await this.execute(id);
        ran.push(id);
      }
      return ran;
    } finally {
      this.claiming = false;
    }
  }

  /** The schedule's run for one firing: only the replica that records it first runs it. */
  async runScheduled(firedAt: Date, scope: ReconciliationScope = 'incremental'): Promise<ReconciliationRun | null> {
    const minute = new Date(Math.floor(firedAt.getTime() / 60_000) * 60_000);
    let run: ReconciliationRun;
    try {
      run = await this.create('scheduled', scope, null, minute, this.me);
    } catch (error) {
      if (isUniqueViolation(error)) return null; // another replica has it
      throw error;
    }
    return this.execute(run.id);
  }

  async get(id: string): Promise<ReconciliationRun> {
    const row = await this.repository.find(id);
    if (!row) throw notFound(`reconciliation ${id}`);
    return toRun(row);
  }

  async list(limit: number, cursor?: string): Promise<Page<ReconciliationRun>> {
    const before = decodeCursor<{ t: string; id: string }>(cursor, ['t', 'id']);
    const rows = await this.repository.list(before && { startedAt: new Date(before.t), id: before.id }, limit + 1);
    return pageOf(
      rows.map(toRun),
      limit,
      (r) => r,
      (r) => ({ t: r.startedAt.toISOString(), id: r.id }),
    );
  }

  /** Runs every check of a run this process has claimed and stores the report, renewing the run's heartbeat meanwhile. */
  async execute(id: string): Promise<ReconciliationRun> {
    const heartbeat = setInterval(
      () => void this.repository.heartbeat(id, this.me).catch((e: Error) => this.logger.warn(`run ${id}: heartbeat failed: ${e.message}`)),
      RUN_HEARTBEAT_MS,
    );
    try {
      return await this.checkAndStore(id);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async checkAndStore(id: string): Promise<ReconciliationRun> {
    const checks: CheckResult[] = [];
    try {
      await this.seals.seal(); // what is old enough is sealed before it is checked
    } catch (error) {
      checks.push({ name: 'sealing', passed: false, detail: `new transactions could not be sealed: ${(error as Error).message}` });
    }
    try {
      await this.checkpoints.keepMonths(); // and the months that ended have their checkpoints
    } catch (error) {
      checks.push({ name: 'checkpointing', passed: false, detail: `balance checkpoints could not be made: ${(error as Error).message}` });
    }
    const run = (await this.repository.find(id))!;
    const marks = await this.repository.marks();
    const previous = await this.repository.lastPassed();
    const incremental = (run.scope ?? 'incremental') === 'incremental' && previous !== null;
    const plan = incremental
      ? this.incrementalPlan({ from: previous.highWater, afterSeal: previous.lastSeal, afterPosting: previous.postingFloor }, marks)
      : this.fullPlan(id, run.progress ?? {}, marks, previous?.highWater ?? null, await this.archived());
    // The checks are independent set-based queries: they run side by side on a few of the
    // pool's connections (a large check split in parts), so that every core works on the books
    // while requests keep connections of their own.
    const results = await Promise.all([
      ...plan.checks.map((check) => this.runCheck(check, plan.journal)),
      timed(async (): Promise<Omit<CheckResult, 'durationMs'>> => {
        const broken = await this.seals
          .brokenSeals(plan.sealsAfter)
          .catch((error: Error) => [`the chain could not be read: ${error.message}`]);
        return broken.length === 0
          ? { name: 'seal_chain_intact', passed: true, detail: 'every seal’s root and hash recompute, each chained to the one before' }
          : {
              name: 'seal_chain_intact',
              passed: false,
              detail: `${broken.length} seal(s) do not recompute, e.g. ${broken[0]}`,
              offending: broken.slice(0, 20),
            };
      }),
    ]);
    checks.push(...results);
    const covered = await plan.covered();
    // an incremental run with no passed run to start from checks everything, and says so
    if (!incremental && (run.scope ?? 'incremental') === 'incremental') covered.effectivelyFull = true;
    if (checks.every((c) => c.passed)) {
      // the next incremental run starts from these rows: the balances of the accounts this one proved
      await this.checkpoints.recordVerified(plan.verifiedFrom, marks.highWater);
      await this.checkpoints.pruneVerified(marks.highWater);
    }
    const passed = checks.every((c) => c.passed);
    const row = await this.repository.finish(id, this.me, passed ? 'passed' : 'failed', checks, marks, covered);
    if (!row) {
      // its heartbeat stopped long enough for another process to fail it and run it again
      this.logger.warn(`reconciliation ${id} finished after it was taken over: its result is not stored`);
      return this.get(id);
    }
    this.metrics.reconciliationFailed.set(passed ? 0 : 1);
    this.metrics.reconciliationLastRun.set(row.finishedAt!.getTime() / 1000);
    this.metrics.reconciliationDuration.observe((row.finishedAt!.getTime() - row.startedAt.getTime()) / 1000);
    if (passed) this.logger.log(`reconciliation ${id} passed (${checks.length} checks)`);
    else
      this.logger.error(
        `RECONCILIATION FAILED ${id}: ${checks
          .filter((c) => !c.passed)
          .map((c) => c.detail)
          .join(' | ')}`,
      );
    return toRun(row);
  }

  /**
   * An incremental run: the journal since the last passed run's high water (and later rows), the
   * balances of the accounts it touched, the seals made since (see incrementalChecks).
   */
  private incrementalPlan(start: IncrementalStart, marks: RunMarks): Plan {
    const window: JournalWindow = { from: start.from, to: null };
    let rows: Promise<PassOffence[]> | undefined;
    return {
      checks: incrementalChecks(start),
      journal: () => (rows ??= this.offences<PassOffence>(windowJournalPass(window), true)),
      sealsAfter: start.afterSeal,
      verifiedFrom: start.from,
      covered: async () => {
        const counts = await this.repository.windowCounts(start.from);
        return {
          from: start.from.toISOString(),
          to: marks.highWater.toISOString(),
          effectivelyFull: false,
          ...counts,
          seals: sealRange(start.afterSeal, marks.lastSeal),
        };
      },
    };
  }

  /**
   * A full run: the journal month by month (UTC months, the partitions' bounds), each month's
   * transactions re-hashed and summed and its checkpoint verified, then every check over the whole
   * books. A finished month's offences are stored in the run's progress as soon as it is done, so
   * that the run that re-runs an interrupted one goes on from them.
   */
  private fullPlan(
    id: string,
    progress: FullRunProgress,
    marks: RunMarks,
    previousHighWater: Date | null,
    archive: ArchivedMonths | null,
  ): Plan {
    const carried = new Map(Object.entries(progress.months ?? {}));
    const verified: string[] = [];
    let rows: Promise<PassOffence[]> | undefined;
    const journal = () =>
      (rows ??= (async () => {
        // the months with transactions, found on the index of creation times (a gap costs one probe)
        const months: { key: string; window: JournalWindow; rowsTo: Date | null }[] = [];
        for (let at = await this.repository.firstActivity(); at;) {
          const m = monthStart(at);
          const end = nextMonthStart(m);
          // the month the high water is in is still being written: read to its end and beyond
          months.push({ key: m.toISOString().slice(0, 7), window: { from: m, to: end > marks.highWater ? null : end }, rowsTo: null });
          if (end > marks.highWater) break; // (that window has no end: it reads the later months too)
          at = await this.repository.firstActivity(end);
          if (at) months[months.length - 1].rowsTo = monthStart(at);
        }
        const parts = await Promise.all(
          months.map(async ({ key, window, rowsTo }) => {
            const done = carried.get(key);
            if (done && window.to !== null) return done;
            const base = await this.repository.checkpointMonthAtOrBefore(window.from);
            const found = (
              await Promise.all([
                this.offences<PassOffence>(windowJournalPass(window), true),
                this.offences<PassOffence>(checkpointsOfMonth(window, base, rowsTo), true),
              ])
            ).flat();
            if (window.to !== null) await this.repository.monthDone(id, this.me, key, found);
            verified.push(key);
            return found;
          }),
        );
        return parts.flat();
      })());
    return {
      checks: [...fullChecks(archive), { ...CHECKPOINTS_CHECK, parts: [], pass: 'journal' as const }],
      journal,
      sealsAfter: 0n,
      // the rows the next incremental run starts from: every account touched since the previous mark
      verifiedFrom: previousHighWater ?? new Date(0),
      covered: async () => {
        const counts = await this.repository.windowCounts(null);
        return {
          from: null,
          to: marks.highWater.toISOString(),
          effectivelyFull: false,
          ...counts,
          seals: sealRange(0n, marks.lastSeal),
          months: {
            verified: verified.sort(),
            carriedOver: [...carried.keys()].filter((k) => !verified.includes(k)).sort(),
            ...(archive ? { archived: archive.months.map((m) => ({ month: m.month, transactions: m.transactions })) } : {}),
          },
        };
      },
    };
  }

  /** The journal's archived (detached) months, null when there is none (see ArchivedMonths). */
  private async archived(): Promise<ArchivedMonths | null> {
    const rows = await this.repository.archivedMonths();
    if (rows.length === 0) return null;
    const months = rows.map((r) => {
      const from = monthStart(r.month);
      return { month: from.toISOString().slice(0, 7), from, to: nextMonthStart(from), transactions: r.transactions };
    });
    return { months, to: months[months.length - 1].to };
  }

  /** One of the checks on its own (the CLI verifies seals with the reconciliation's own check). */
  async check(name: string): Promise<CheckResult> {
    if (!CHECKS.some((c) => c.name === name)) throw notFound(`check ${name}`);
    const archive = await this.archived();
    const check = fullChecks(archive).find((c) => c.name === name)!;
    return this.runCheck(check, this.journalPass(archive));
  }

  /**
   * The pass over the journal that several checks share (see JOURNAL_PASS): started by the first
   * check that asks for it, its offences each naming the check they belong to.
   */
  private journalPass(archive: ArchivedMonths | null): () => Promise<PassOffence[]> {
    let rows: Promise<PassOffence[]> | undefined;
    return () =>
      (rows ??= Promise.all(journalPass(archive).map((sql) => this.offences<PassOffence>(sql, true))).then((parts) => parts.flat()));
  }

  private runCheck(check: CheckDefinition, journal: () => Promise<PassOffence[]>): Promise<CheckResult> {
    return timed(async () => {
      try {
        const parts = await Promise.all([
          ...check.parts.map((sql) => this.offences(sql)),
          check.pass === 'journal' ? journal().then((rows) => rows.filter((r) => r.check === check.name)) : [],
        ]);
        const rows = parts.flat().slice(0, OFFENCES_SHOWN);
        return rows.length === 0
          ? { name: check.name, passed: true, detail: check.description }
          : {
              name: check.name,
              passed: false,
              detail: `${check.description}: ${rows.length} offence(s), e.g. ${rows[0].what}`,
              offending: rows.map((r) => r.what),
            };
      } catch (error) {
        return { name: check.name, passed: false, detail: `the check could not run: ${(error as Error).message}` };
      }
    });
  }

  /** The first offences a check's query finds, on at most RECONCILE_CONNECTIONS connections at once. */
  private offences<Row extends { what: string } = { what: string }>(sql: Prisma.Sql, byCheck = false): Promise<Row[]> {
    return this.slots(() => this.repository.offences<Row>(sql, byCheck, OFFENCES_SHOWN));
  }

  private async create(
    trigger: 'scheduled' | 'manual',
    scope: ReconciliationScope,
    requestedBy: string | null,
    scheduledFor: Date | null,
    holder: string | null,
  ): Promise<ReconciliationRun> {
    const row = await this.repository.create({ id: randomUUID(), trigger, scope, requestedBy, scheduledFor, holder });
    return toRun(row);
  }
}

interface Plan {
  checks: CheckDefinition[];
  journal: () => Promise<PassOffence[]>;
  /** the seal chain is verified after this seal (whose hash the last passed run verified) */
  sealsAfter: bigint;
  /** the journal before this moment was verified before: a passed run adds checkpoint rows from it to its high water */
  verifiedFrom: Date;
  covered: () => Promise<RunCoverage>;
}

function sealRange(after: bigint, last: bigint | null): RunCoverage['seals'] {
  return last !== null && last > after ? { first: (after + 1n).toString(), last: last.toString() } : { first: null, last: null };
}

function toRun(row: ReconciliationRow): ReconciliationRun {
  return {
    id: row.id,
    status: row.status as ReconciliationRun['status'],
    trigger: row.trigger as ReconciliationRun['trigger'],
    scope: (row.scope ?? 'full') as ReconciliationScope,
    covered: (row.covered ?? null) as RunCoverage | null,
    requestedBy: row.requestedBy,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    checks: (row.checks ?? []) as CheckResult[],
    retryOf: row.retryOf ?? null,
  };
}

async function timed(run: () => Promise<Omit<CheckResult, 'durationMs'>>): Promise<CheckResult> {
  const started = performance.now();
  const result = await run();
  return { ...result, durationMs: Math.round(performance.now() - started) };
}
