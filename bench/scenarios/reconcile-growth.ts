import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Pool } from 'pg';
import { AppModule } from '../../src/app.module';
import { IncrementalStart, incrementalChecks, windowJournalPass } from '../../src/audit/reconciliation.checks';
import { ReconciliationRepository } from '../../src/audit/reconciliation.repository';
import { ReconciliationService } from '../../src/audit/reconciliation.service';
import { SealService } from '../../src/audit/seal.service';
import { loadConfig } from '../../src/config/config';
import { Prisma } from '../../src/generated/prisma/client';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { stopSchedules } from '../../src/infra/schedule/stop-schedules';
import { BalanceCheckpointsService } from '../../src/ledger/balance-checkpoints.service';
import { LedgerReadService } from '../../src/ledger/ledger-read.service';
import { BenchOptions } from '../options';
import { benchDatabaseUrl, dropDatabase, recreateDatabase } from '../support/database';

/** Residents of both journals: the same city, a longer history. */
const GROWTH_RESIDENTS = 20_000;
const DAY_MS = 86_400_000;
/** The history's transaction ids, ascending with g (a time-ordered UUID, as the journal's indexes would like them). */
const HISTORY_ID = `lpad(to_hex(g), 32, '0')::uuid`;
/** The day's, apart from the history's. */
const DAY_ID = `('d' || lpad(to_hex(g), 31, '0'))::uuid`;
/** Times each read is repeated; the median is reported. */
const READS = 5;

export interface GrowthFigures {
  postings: number;
  /** seconds of the nightly (incremental) run over the day */
  nightly: number;
  /** what it covered */
  covered: { transactions: number; postings: number; accounts: number };
  /** median seconds of a trial balance as of a month ago */
  trialBalance: number;
  /** median seconds of a month's statement of one resident */
  statement: number;
}

/**
 * One journal of `postings` postings (earns from the programme to GROWTH_RESIDENTS residents)
 * written by set-based SQL at a constant rate, `--growth-small`/4 postings a month, so that a
 * larger journal is a longer history of the same city; then a day of `--growth-day` postings.
 * What the service had done by the night is done before the clock starts: the months' balance
 * checkpoints (the hourly job), the rows of the last passed run at the history's end (its
 * high water: a stand-in run row and the checkpoint rows that run would have written), the seals
 * (the history's one stand-in seal, no entries: an incremental run trusts the chain before its
 * last passed run; the day is sealed by the service). Timed: the nightly run, a trial balance
 * as of a month ago, and a month's statement of one resident.
 */
async function growthJournal(o: BenchOptions, name: string, postings: number): Promise<GrowthFigures> {
  await recreateDatabase(o.database, name);
  const url = benchDatabaseUrl(o.database, name);
  const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'error' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  // no schedule of its own: the seeding below is what the service's jobs would have done by the night
  stopSchedules(app);
  try {
    const pool = new Pool({ connectionString: url, max: 1 });
    const perMonth = Math.max(1, Math.floor(o.growthSmall / 4));
    const months = postings / perMonth;
    const now = Date.now();
    const dayStart = new Date(now - 25 * 3600_000);
    const historyEnd = new Date(dayStart.getTime() - 3600_000);
    const historyStart = new Date(historyEnd.getTime() - months * 30 * DAY_MS);
    const n = Math.floor(postings / 2);
    const d = Math.floor(o.growthDay / 2);
    const dayEnd = new Date(now - 3600_000);
    const spread = (count: number, from: Date, to: Date) =>
      `to_timestamp(${from.getTime() / 1000} + (g - 1) * ${(to.getTime() - from.getTime()) / 1000 / count})`;
    try {
      const seeded = process.hrtime.bigint();
      await pool.query(`
        SET synchronous_commit = off;
        SET maintenance_work_mem = '256MB';
        INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
          SELECT 'resident:r' || g, 'POINTS', 'C', false, 1 FROM generate_series(1, ${GROWTH_RESIDENTS}) g;
        INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ('programme:issued', 'POINTS', 'D', false, 16);
        SELECT ledger_partitions_ensure('${historyStart.toISOString()}', ${Math.ceil(months) + 3});
        SET session_replication_role = replica;
        -- ids ascending with time (HISTORY_ID), so that every index of the journal is appended to rather
        -- than written at random: a 10 M journal is seeded in minutes
        INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
          SELECT ${HISTORY_ID}, 'earn', 'posted', '{}', ${spread(n, historyStart, historyEnd)}, ${spread(n, historyStart, historyEnd)}
          FROM generate_series(1, ${n}) g;
        INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
          SELECT ${HISTORY_ID}, x.account, x.shard, 'POINTS', x.side, 20, false, ${spread(n, historyStart, historyEnd)}
          FROM generate_series(1, ${n}) g,
               LATERAL (VALUES (${GROWTH_RESIDENTS + 1}::bigint, (g % 16)::smallint, 'D'), ((1 + g % ${GROWTH_RESIDENTS})::bigint, 0::smallint, 'C')) x(account, shard, side);
        -- the id registry, which the journal's statement trigger fills (not fired in this replica-role load)
        INSERT INTO ledger_transaction_ids (id, created_at)
          SELECT ${HISTORY_ID}, ${spread(n, historyStart, historyEnd)} FROM generate_series(1, ${n}) g;
        SET session_replication_role = origin;
        ANALYZE;`);
      // what the service had done before the night: checkpoints, the last passed run, the seals
      await app.get(BalanceCheckpointsService).keepMonths();
      await pool.query(`
        INSERT INTO ledger_seals (id, covers_from, covers_to, transactions, merkle_root, previous_hash, hash)
          VALUES (1, '-infinity', '${historyEnd.toISOString()}', 0, repeat('0', 64), repeat('0', 64), repeat('1', 64));
        INSERT INTO reconciliations (id, status, trigger, scope, started_at, finished_at, high_water, last_seal, posting_floor, covered)
          VALUES ('${randomUUID()}', 'passed', 'scheduled', 'incremental', now(), now(), '${historyEnd.toISOString()}', 1,
                  (SELECT max(id) FROM ledger_postings), '{}');`);
      const lastMonth = await app.get(PrismaService).ledgerCheckpointMonth.findFirst({ orderBy: { asOf: 'desc' } });
      await app.get(BalanceCheckpointsService).recordVerified(lastMonth?.asOf ?? new Date(0), historyEnd);
      // the day
      await pool.query(`
        SET synchronous_commit = off;
        SET session_replication_role = replica;
        INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
          SELECT ${DAY_ID}, 'earn', 'posted', '{}', ${spread(d, dayStart, dayEnd)}, ${spread(d, dayStart, dayEnd)}
          FROM generate_series(1, ${d}) g;
        INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
          SELECT ${DAY_ID}, x.account, x.shard, 'POINTS', x.side, 20, false, ${spread(d, dayStart, dayEnd)}
          FROM generate_series(1, ${d}) g,
               LATERAL (VALUES (${GROWTH_RESIDENTS + 1}::bigint, (g % 16)::smallint, 'D'), ((1 + g % ${GROWTH_RESIDENTS})::bigint, 0::smallint, 'C')) x(account, shard, side);
        INSERT INTO ledger_transaction_ids (id, created_at)
          SELECT ${DAY_ID}, ${spread(d, dayStart, dayEnd)} FROM generate_series(1, ${d}) g;
        SET session_replication_role = origin;
        -- the balances, as the journal's writes would have left them
        INSERT INTO account_balances (account_id, shard, normal_side, floor_zero, debits_posted, credits_posted)
          SELECT a.id, s.shard, a.normal_side, a.floor_zero, coalesce(x.d, 0), coalesce(x.c, 0)
          FROM ledger_accounts a CROSS JOIN LATERAL generate_series(0, a.shards - 1) AS s(shard)
          LEFT JOIN (SELECT account_id, shard, coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS d, coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS c
                     FROM ledger_postings GROUP BY account_id, shard) x ON x.account_id = a.id AND x.shard = s.shard;
        -- what autovacuum's analyse would have done by the night (its statistics of the day's rows)
        ANALYZE;`);
      console.log(
        `  ${postings} postings: seeded in ${(Number(process.hrtime.bigint() - seeded) / 1e9).toFixed(1)} s (with the months' checkpoints)`,
      );
    } finally {
      await pool.end();
    }
    await app.get(SealService).seal();
    await app.get(BalanceCheckpointsService).keepMonths();
    // what the server's checkpointer does through the day: the seed's dirty pages written out, so
    // that the timed run does not write them to evict them (EXPLAIN at 10 M: 6,343 buffers written
    // by the nightly run's balances query, against 562 at 1 M)
    const admin = new Pool({ connectionString: url, max: 1 });
    await admin.query('CHECKPOINT').finally(() => admin.end());

    const started = process.hrtime.bigint();
    const report = await app.get(ReconciliationService).runScheduled(new Date(), 'incremental');
    const nightly = Number(process.hrtime.bigint() - started) / 1e9;
    if (!report || report.status !== 'passed' || report.covered?.effectivelyFull) {
      throw new Error(`the nightly run over the day did not pass as an incremental run: ${JSON.stringify(report)}`);
    }
    console.log(
      `  ${postings} postings: nightly checks (ms, side by side): ${report.checks.map((c) => `${c.name} ${c.durationMs ?? '-'}`).join(', ')}`,
    );

    const reads = app.get(LedgerReadService);
    const monthAgo = new Date(historyEnd.getTime() - 30 * DAY_MS + 7 * 3600_000);
    const statementTo = new Date(historyEnd.getTime() - 3 * DAY_MS);
    const statementFrom = new Date(statementTo.getTime() - 30 * DAY_MS);
    const median = async (read: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < READS; i++) {
        const t0 = process.hrtime.bigint();
        await read();
        times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return times.sort((a, b) => a - b)[Math.floor(READS / 2)];
    };
    const trialBalance = await median(() => reads.trialBalanceReport(monthAgo));
    const statement = await median(() => reads.statementView('resident:r7', 'POINTS', statementFrom, statementTo, 1000));
    if (process.env.GROWTH_EXPLAIN) {
      await explainNightly(url, `${process.env.GROWTH_EXPLAIN}-${postings}.txt`, historyEnd);
      // and the run's own steps around its checks, each timed three times (medians, ms)
      const repository = app.get(ReconciliationRepository);
      const checkpoints = app.get(BalanceCheckpointsService);
      const seals = app.get(SealService);
      const marks = await repository.marks();
      const steps: [string, () => Promise<unknown>][] = [
        ['seal (nothing new)', () => seals.seal()],
        ['keepMonths (nothing new)', () => checkpoints.keepMonths()],
        ['marks', () => repository.marks()],
        ['lastPassed', () => repository.lastPassed()],
        ['windowCounts', () => repository.windowCounts(historyEnd)],
        ['recordVerified (rows there)', () => checkpoints.recordVerified(historyEnd, marks.highWater)],
        ['pruneVerified', () => checkpoints.pruneVerified(marks.highWater)],
        ['brokenSeals after the stand-in', () => seals.brokenSeals(1n)],
      ];
      const lines: string[] = [];
      for (const [step, call] of steps) {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = process.hrtime.bigint();
          await call();
          times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        lines.push(`${step}: ${times.sort((a, b) => a - b)[1].toFixed(1)} ms`);
      }
      console.log(`  ${postings} postings: the run's steps besides its checks: ${lines.join('; ')}`);
    }
    const covered = report.covered!;
    return {
      postings,
      nightly,
      covered: { transactions: covered.transactions, postings: covered.postings, accounts: covered.accounts },
      trialBalance,
      statement,
    };
  } finally {
    await app.close();
    if (!o.keep) await dropDatabase(o.database, name);
  }
}

/**
 * With GROWTH_EXPLAIN=path: every query of the nightly run over the day (the window from the
 * history's end, as the stand-in passed run left it) under EXPLAIN ANALYZE, into path-<postings>.txt,
 * with the same settings as the reconciliation's own transactions (RECONCILE_WORK_MEM, no parallel
 * workers, no JIT). A tool for finding what grows with the journal.
 */
async function explainNightly(url: string, file: string, from: Date): Promise<void> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    const [stand] = (await pool.query(`SELECT posting_floor FROM reconciliations WHERE high_water = $1`, [from])).rows as {
      posting_floor: string;
    }[];
    const start: IncrementalStart = { from, afterSeal: 1n, afterPosting: BigInt(stand.posting_floor) };
    const queries: [string, Prisma.Sql][] = [
      ['journal pass', windowJournalPass({ from, to: null })],
      ...incrementalChecks(start).flatMap((c) => c.parts.map((sql, i): [string, Prisma.Sql] => [`${c.name} part ${i + 1}`, sql])),
    ];
    const out: string[] = [];
    for (const [name, sql] of queries) {
      const client = await pool.connect();
      try {
        await client.query(`BEGIN; SET LOCAL work_mem = '256MB'; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off`);
        const values = sql.values.map((v) => (typeof v === 'bigint' ? v.toString() : v));
        const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql.text}`, values);
        out.push(`=== ${name}`, ...plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']), '');
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
    }
    writeFileSync(file, out.join('\n'));
  } finally {
    await pool.end();
  }
}

/** `--only reconcile-growth`: the same measurements on the small and the large journal, in one run. */
export async function reconcileGrowth(o: BenchOptions): Promise<[GrowthFigures, GrowthFigures]> {
  const small = await growthJournal(o, `${o.databaseName}_gs`, o.growthSmall);
  const large = await growthJournal(o, `${o.databaseName}_gl`, o.growthLarge);
  return [small, large];
}
