import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { AppModule } from '../../src/app.module';
import { ReconciliationService } from '../../src/audit/reconciliation.service';
import { SealService } from '../../src/audit/seal.service';
import { loadConfig } from '../../src/config/config';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { BenchOptions } from '../options';
import { RunResult } from '../stats';
import { recreateDatabase } from '../support/database';

/**
 * A reconciliation over a journal of `--reconcile` postings (earns for 100,000 residents),
 * written straight into the tables by set-based SQL with balances and lots to match, then sealed (not
 * timed: sealing happens every minute in production), then one full run, timed.
 */
export async function reconciliation(o: BenchOptions, url: string): Promise<RunResult> {
  await recreateDatabase(o.database, o.databaseName);
  const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'error' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  const pool = new Pool({ connectionString: url, max: 1 });
  const n = Math.floor(o.reconcile / 2);
  await pool.query(`
    INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
      SELECT 'resident:r' || g, 'POINTS', 'C', true, 1 FROM generate_series(1, 100000) g;
    INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ('programme:issued', 'POINTS', 'D', false, 16);
    SELECT ledger_partitions_ensure(now() - interval '1 day', 1);
    SET session_replication_role = replica;
    INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
      SELECT md5('t' || g)::uuid, 'earn', 'posted', '{}', now() - interval '1 hour', now() - interval '1 hour' + g * interval '1 microsecond'
      FROM generate_series(1, ${n}) g;
    -- a posting's created_at is its transaction's (one statement writes both in the service)
    INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
      SELECT md5('t' || g)::uuid, 100001, g % 16, 'POINTS', 'D', 20, false, now() - interval '1 hour' + g * interval '1 microsecond' FROM generate_series(1, ${n}) g
      UNION ALL
      SELECT md5('t' || g)::uuid, 1 + g % 100000, 0, 'POINTS', 'C', 20, false, now() - interval '1 hour' + g * interval '1 microsecond' FROM generate_series(1, ${n}) g;
    -- each credit of a resident is a lot (points expiry: the door writes one with every credit);
    -- without them the lots' check finds every resident's balance in no lot
    INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at, created_at)
      SELECT 1 + g % 100000, md5('t' || g)::uuid, 20, 20, NULL, now() - interval '1 hour' + g * interval '1 microsecond' FROM generate_series(1, ${n}) g;
    -- the id registry, which the journal's statement trigger fills (not fired in this replica-role load)
    INSERT INTO ledger_transaction_ids (id, created_at, pending_id, reverses_id)
      SELECT id, created_at, pending_id, reverses_id FROM ledger_transactions;
    SET session_replication_role = origin;
    INSERT INTO account_balances (account_id, shard, normal_side, floor_zero, debits_posted, credits_posted)
      SELECT a.id, s.shard, a.normal_side, a.floor_zero,
             coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id AND p.shard = s.shard AND p.side = 'D'), 0),
             coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id AND p.shard = s.shard AND p.side = 'C'), 0)
      FROM ledger_accounts a, generate_series(0, a.shards - 1) AS s(shard);
    ANALYZE;`);
  await pool.end();
  await app.get(SealService).seal();
  const service = app.get(ReconciliationService);
  const run = await app.get(PrismaService).reconciliation.create({ data: { id: randomUUID(), status: 'running', trigger: 'manual' } });
  const started = process.hrtime.bigint();
  const report = await service.execute(run.id);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await app.close();
  console.log(`reconciliation checks (ms, side by side): ${report.checks.map((c) => `${c.name} ${c.durationMs ?? '-'}`).join(', ')}`);
  if (report.status !== 'passed')
    throw new Error(`the benchmark's books did not reconcile: ${JSON.stringify(report.checks.filter((c) => !c.passed))}`);
  return { operations: o.reconcile, seconds, perSecond: o.reconcile / seconds, p50: seconds * 1000, p99: seconds * 1000 };
}
