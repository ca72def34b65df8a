import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Client, Pool } from 'pg';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../app.setup';
import { signResidentToken } from '../auth/domain/resident-token';
import { APP_CONFIG, AppConfig } from '../config/config';
import { PrismaService } from '../infra/database/prisma.service';
import { AppModule } from '../app.module';
import { Decimal } from '../common/money';
import { loadConfig, processArgs } from '../config/config';
import { LedgerService } from '../ledger/ledger.service';
import { ReconciliationService } from '../audit/reconciliation.service';
import { SealService } from '../audit/seal.service';
import { measure, percentile, RunResult } from './stats';

/**
 * `npm run bench`: the ledger's speed, measured against the plainest SQL doing the same work in
 * the same run, so that the ratio holds on a noisy machine.
 *
 * Options: --transfers N (default 6000), --workers N (default 16), --database URL (a server
 * URL; the benchmark makes and drops its own database `civic_ledger_bench`).
 */
const args = processArgs();
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const TRANSFERS = Number(option('transfers', '6000'));
const WORKERS = Number(option('workers', '16'));
const SERVER_URL = option('database', 'postgres://postgres:postgres@127.0.0.1:5432/postgres');
const BENCH_DB = 'civic_ledger_bench';
const RESIDENTS = 1000;
const EVENTS = Number(option('events', '20000'));
const EARN_BATCH = 1000;
const REDIS = option('redis', 'redis://127.0.0.1:6379');
const REDEMPTIONS = Number(option('redemptions', '3000'));
const VALIDATIONS = Number(option('validations', '20000'));
const RECONCILE_POSTINGS = Number(option('reconcile', '1000000'));
/** `--only reconcile` or `--only catalogue`: just those scenarios (while working on one) */
const ONLY = option('only', 'all');

async function main(): Promise<void> {
  const url = new URL(SERVER_URL);
  url.pathname = `/${BENCH_DB}`;
  await recreateDatabase();

  if (ONLY === 'reconcile') {
    const reconcile = await reconciliation(url.toString());
    if (!args.includes('--keep')) await dropDatabase();
    console.log(table([[`reconciliation of ${RECONCILE_POSTINGS} postings (one run)`, reconcile]]));
    return;
  }
  if (ONLY === 'catalogue') {
    const service_ = await startService(url.toString());
    const { redemptions, validations } = await catalogue(service_);
    await service_.app.close();
    await dropDatabase();
    console.log(table([['redemptions: HTTP, 64 residents at once', redemptions], ['partner validations: HTTP, 32 tills at once', validations]]));
    return;
  }
  console.log(`Civic points ledger benchmark: ${TRANSFERS} transfers, ${WORKERS} concurrent workers, PostgreSQL at ${url.host}\n`);
  const floor = await rowAtATimeFloor(url.toString());
  const service = await ledgerService(url.toString());
  const service_ = await startService(url.toString());
  const ingest = await earnIngest(service_);
  const { redemptions, validations } = await catalogue(service_);
  await service_.app.close();
  const reconcile = RECONCILE_POSTINGS > 0 ? await reconciliation(url.toString()) : undefined;
  await dropDatabase();

  const rows: [string, RunResult][] = [
    [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
    ['ledger service: one earn per call', service],
    ['redemptions: HTTP, 64 residents at once', redemptions],
    ['partner validations: HTTP, 32 tills at once', validations],
    ['floor: plain SQL, one transfer per transaction', floor],
    ...(reconcile ? ([[`reconciliation of ${RECONCILE_POSTINGS} postings (one run)`, reconcile]] as [string, RunResult][]) : []),
  ];
  console.log(table(rows));
  console.log(`\nratio ledger service / row-at-a-time floor: ${(service.perSecond / floor.perSecond).toFixed(2)}x`);
  console.log(`ratio earn ingest / row-at-a-time floor:    ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
  console.log(`ratio redemptions / row-at-a-time floor:    ${(redemptions.perSecond / floor.perSecond).toFixed(2)}x (target 0.5x)`);
  console.log(`partner validations per second:             ${validations.perSecond.toFixed(0)} (target 5000)`);
}

/**
 * The same writes as plainly as SQL allows: two balance rows (one of them the single row of the
 * system account) updated and two postings inserted, one database transaction per transfer.
 */
async function rowAtATimeFloor(url: string): Promise<RunResult> {
  const pool = new Pool({ connectionString: url, max: WORKERS });
  await pool.query(`
    CREATE TABLE plain_balances (account TEXT PRIMARY KEY, balance NUMERIC NOT NULL DEFAULT 0);
    CREATE TABLE plain_postings (id BIGSERIAL PRIMARY KEY, transfer BIGINT NOT NULL, account TEXT NOT NULL, amount NUMERIC NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO plain_balances (account) SELECT 'resident:b' || g FROM generate_series(0, ${RESIDENTS - 1}) g;
    INSERT INTO plain_balances (account) VALUES ('programme:issued');`);
  const result = await measure(TRANSFERS, WORKERS, async (i) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE plain_balances SET balance = balance - 10 WHERE account = $1', ['programme:issued']);
      await client.query('UPDATE plain_balances SET balance = balance + 10 WHERE account = $1', [`resident:b${i % RESIDENTS}`]);
      await client.query('INSERT INTO plain_postings (transfer, account, amount) VALUES ($1, $2, -10), ($1, $3, 10)', [
        i,
        'programme:issued',
        `resident:b${i % RESIDENTS}`,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  await pool.end();
  return result;
}

async function ledgerService(url: string): Promise<RunResult> {
  const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: String(WORKERS), LOG_LEVEL: 'error' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  const ledger = app.get(LedgerService);
  const ten = new Decimal(10);
  // accounts exist before timing starts, as they would in a running programme
  await measure(RESIDENTS, WORKERS, (i) => earn(ledger, i, ten));
  const result = await measure(TRANSFERS, WORKERS, (i) => earn(ledger, i, ten));
  await app.close();
  return result;
}

interface BenchApp {
  app: NestExpressApplication;
  base: string;
  adminKey: string;
  call(path: string, body: unknown, key: string): Promise<Record<string, unknown>>;
}

/** The whole service on the benchmark database, with Bull on Redis, listening on loopback. */
async function startService(url: string): Promise<BenchApp> {
  const adminKey = randomBytes(24).toString('base64url');
  const config = loadConfig({
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(WORKERS),
    REDIS_URL: REDIS,
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    ADMIN_API_KEY: adminKey,
    RESIDENT_JWT_SECRET: randomBytes(32).toString('base64url'),
    PARTNER_CODE_RATE_PER_MINUTE: '1000000',
    LOG_LEVEL: 'error',
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async (path: string, body: unknown, key: string) => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': key }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  return { app, base, adminKey, call };
}

/**
 * Earn ingest end to end: a participation service posts batches of 1000 events over HTTP (a few
 * at a time), Bull on Redis carries them to the processing, and the clock stops when every
 * event is posted. p50/p99 are of the HTTP answers (acceptance).
 */
async function earnIngest({ app, base, adminKey, call }: BenchApp): Promise<RunResult> {
  await call('/v1/admin/sources', { id: 'votes', name: 'Votes' }, adminKey);
  await call('/v1/admin/earning-rules', { id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' }, adminKey);
  const sourceKey = (await call('/v1/admin/api-clients', { name: 'bench', role: 'source', sourceId: 'votes' }, adminKey)).apiKey as string;
  const prisma = app.get(PrismaService);
  const batches = Math.ceil(EVENTS / EARN_BATCH);
  const occurredAt = new Date().toISOString();
  // the client's payloads are ready before the clock starts, as a participation service's would be
  const request = (b: number): ClientRequest => ({
    method: 'POST',
    path: '/v1/earn-events',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': sourceKey },
    expect: 202,
    body: JSON.stringify({
      events: Array.from({ length: EARN_BATCH }, (_, i) => ({
        externalId: randomUUID(),
        type: 'vote.cast',
        residentId: `b${(b * EARN_BATCH + i) % RESIDENTS}`,
        occurredAt,
      })),
    }),
  });
  // warm-up: accounts exist, as in a running programme
  await loadFromClient(base, [request(0)], 1);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const requests = Array.from({ length: batches }, (_, b) => request(b + 1));

  const started = process.hrtime.bigint();
  const latencies = await loadFromClient(base, requests, 4);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const events = batches * EARN_BATCH;
  return { operations: events, seconds, perSecond: events / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/**
 * Redemptions by 64 concurrent residents (each their own) against a few popular items, through
 * HTTP with idempotency keys; then partner validations of the codes they got.
 */
async function catalogue({ app, base, adminKey, call }: BenchApp): Promise<{ redemptions: RunResult; validations: RunResult }> {
  const ledger = app.get(LedgerService);
  const config = app.get<AppConfig>(APP_CONFIG);
  await call('/v1/admin/partners', { id: 'cafe', name: 'Cafe', kind: 'cafe' }, adminKey);
  const partnerKey = (await call('/v1/admin/api-clients', { name: 'till', role: 'partner', partnerId: 'cafe' }, adminKey)).apiKey as string;
  const items = ['latte', 'cake', 'tea', 'sandwich'];
  for (const id of items) {
    await call('/v1/admin/catalogue-items', { id, kind: 'PROMO_CODE', title: id, partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED', codeValidDays: 30 }, adminKey);
  }
  const residents = Array.from({ length: 64 }, (_, i) => `shopper${i}`);
  const perResident = Math.ceil(REDEMPTIONS / residents.length);
  for (const r of residents) {
    await ledger.record({
      type: 'earn',
      postings: [
        { account: 'programme:issued', asset: 'POINTS', side: 'D', amount: new Decimal(perResident * 10) },
        { account: `resident:${r}`, asset: 'POINTS', side: 'C', amount: new Decimal(perResident * 10) },
      ],
    });
  }
  const tokens = residents.map((r) => signResidentToken(r, config.residentJwtSecret!, 3600));
  // each of the 64 clients is one resident: request i belongs to resident i % 64
  const requests: ClientRequest[] = Array.from({ length: perResident * residents.length }, (_, i) => ({
    method: 'POST',
    path: '/v1/me/redemptions',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[i % residents.length]}`, 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ itemId: items[i % items.length] }),
    expect: 201,
  }));
  const started = process.hrtime.bigint();
  const latencies = await loadFromClient(base, requests, residents.length);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const redemptions = { operations: requests.length, seconds, perSecond: requests.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };

  const codes = (await app.get(PrismaService).itemCode.findMany({ select: { code: true }, take: 2000 })).map((c) => c.code);
  const lookups: ClientRequest[] = Array.from({ length: VALIDATIONS }, (_, i) => ({
    method: 'GET',
    path: `/v1/partner/codes/${codes[i % codes.length]}`,
    headers: { 'X-API-Key': partnerKey },
    expect: 200,
  }));
  const vStarted = process.hrtime.bigint();
  const vLatencies = await loadFromClient(base, lookups, 32);
  const vSeconds = Number(process.hrtime.bigint() - vStarted) / 1e9;
  const validations = { operations: VALIDATIONS, seconds: vSeconds, perSecond: VALIDATIONS / vSeconds, p50: percentile(vLatencies, 50), p99: percentile(vLatencies, 99) };
  return { redemptions, validations };
}

interface ClientRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  expect: number;
}

/**
 * The clients: a separate thread sending prepared requests (`concurrency` at a time), so that
 * the clients' work does not run on the service's event loop. Returns sorted latencies (ms).
 */
function loadFromClient(base: string, requests: ClientRequest[], concurrency: number): Promise<number[]> {
  const source = `
    const { parentPort, workerData: { base, requests, concurrency } } = require('node:worker_threads');
    (async () => {
      const latencies = [];
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < requests.length; i = next++) {
          const r = requests[i];
          const t0 = performance.now();
          const res = await fetch(base + r.path, { method: r.method, headers: r.headers, body: r.body });
          const text = await res.text();
          if (res.status !== r.expect) throw new Error(r.method + ' ' + r.path + ' answered ' + res.status + ' ' + text.slice(0, 200));
          latencies.push(performance.now() - t0);
        }
      }));
      parentPort.postMessage(latencies.sort((a, b) => a - b));
    })().catch((e) => { throw e; });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { base, requests, concurrency } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

/**
 * A reconciliation over a journal of RECONCILE_POSTINGS postings (earns for 100,000 residents),
 * written straight into the tables by set-based SQL with balances to match, then sealed (not
 * timed: sealing happens every minute in production), then one full run, timed.
 */
async function reconciliation(url: string): Promise<RunResult> {
  await recreateDatabase();
  const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: 'error' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  const pool = new Pool({ connectionString: url, max: 1 });
  const n = Math.floor(RECONCILE_POSTINGS / 2);
  await pool.query(`
    INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
      SELECT 'resident:r' || g, 'POINTS', 'C', true, 1 FROM generate_series(1, 100000) g;
    INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ('programme:issued', 'POINTS', 'D', false, 16);
    SET session_replication_role = replica;
    INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
      SELECT md5('t' || g)::uuid, 'earn', 'posted', '{}', now() - interval '1 hour', now() - interval '1 hour' + g * interval '1 microsecond'
      FROM generate_series(1, ${n}) g;
    INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
      SELECT md5('t' || g)::uuid, 100001, g % 16, 'POINTS', 'D', 20, false, now() - interval '1 hour' FROM generate_series(1, ${n}) g
      UNION ALL
      SELECT md5('t' || g)::uuid, 1 + g % 100000, 0, 'POINTS', 'C', 20, false, now() - interval '1 hour' FROM generate_series(1, ${n}) g;
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
  if (report.status !== 'passed') throw new Error(`the benchmark's books did not reconcile: ${JSON.stringify(report.checks.filter((c) => !c.passed))}`);
  return { operations: RECONCILE_POSTINGS, seconds, perSecond: RECONCILE_POSTINGS / seconds, p50: seconds * 1000, p99: seconds * 1000 };
}

function earn(ledger: LedgerService, i: number, amount: Decimal) {
  return ledger.record({
    type: 'earn',
    postings: [
      { account: 'programme:issued', asset: 'POINTS', side: 'D', amount },
      { account: `resident:b${i % RESIDENTS}`, asset: 'POINTS', side: 'C', amount },
    ],
  });
}

async function withServer(fn: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

const recreateDatabase = () =>
  withServer(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${BENCH_DB}`);
  });

const dropDatabase = () => withServer((c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`));

function table(rows: [string, RunResult][]): string {
  const header = ['scenario', 'ops', 'seconds', 'ops/s', 'p50 ms', 'p99 ms'];
  const body = rows.map(([name, r]) => [name, String(r.operations), r.seconds.toFixed(2), r.perSecond.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
