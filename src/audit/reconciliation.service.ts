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
import { CheckDefinition, CHECKS, JOURNAL_PASS, OFFENCES_SHOWN } from './reconciliation.checks';
import { ReconciliationRepository, ReconciliationRow } from './reconciliation.repository';
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

export interface ReconciliationRun {
  id: string;
  status: 'running' | 'passed' | 'failed';
  trigger: 'scheduled' | 'manual';
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
  async start(requestedBy: string): Promise<ReconciliationRun> {
    const here = runsBackgroundWork(this.config);
    const run = await this.create('manual', requestedBy, null, here ? this.me : null);
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
  async runScheduled(firedAt: Date): Promise<ReconciliationRun | null> {
    const minute = new Date(Math.floor(firedAt.getTime() / 60_000) * 60_000);
    let run: ReconciliationRun;
    try {
      run = await this.create('scheduled', null, minute, this.me);
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
    // The checks are independent set-based queries: they run side by side on a few of the
    // pool's connections (a large check split in parts), so that every core works on the books
    // while requests keep connections of their own.
    const journal = this.journalPass();
    const results = await Promise.all([
      ...CHECKS.map((check) => this.runCheck(check, journal)),
      timed(async (): Promise<Omit<CheckResult, 'durationMs'>> => {
        const broken = await this.seals.brokenSeals().catch((error: Error) => [`the chain could not be read: ${error.message}`]);
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
    const passed = checks.every((c) => c.passed);
    const row = await this.repository.finish(id, this.me, passed ? 'passed' : 'failed', checks);
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

  /** One of the checks on its own (the CLI verifies seals with the reconciliation's own check). */
  check(name: string): Promise<CheckResult> {
    const check = CHECKS.find((c) => c.name === name);
    if (!check) throw notFound(`check ${name}`);
    return this.runCheck(check, this.journalPass());
  }

  /**
   * The pass over the journal that several checks share (see JOURNAL_PASS): started by the first
   * check that asks for it, its offences each naming the check they belong to.
   */
  private journalPass(): () => Promise<PassOffence[]> {
    let rows: Promise<PassOffence[]> | undefined;
    return () => (rows ??= Promise.all(JOURNAL_PASS.map((sql) => this.offences<PassOffence>(sql, true))).then((parts) => parts.flat()));
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
    requestedBy: string | null,
    scheduledFor: Date | null,
    holder: string | null,
  ): Promise<ReconciliationRun> {
    const row = await this.repository.create({ id: randomUUID(), trigger, requestedBy, scheduledFor, holder });
    return toRun(row);
  }
}

function toRun(row: ReconciliationRow): ReconciliationRun {
  return {
    id: row.id,
    status: row.status as ReconciliationRun['status'],
    trigger: row.trigger as ReconciliationRun['trigger'],
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
