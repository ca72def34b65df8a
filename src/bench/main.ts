import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Client, Pool } from 'pg';
import { createApp } from '../app.setup';
import { PrismaService } from '../infra/database/prisma.service';
import { AppModule } from '../app.module';
import { Decimal } from '../common/money';
import { loadConfig, processArgs } from '../config/config';
import { LedgerService } from '../ledger/ledger.service';
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

async function main(): Promise<void> {
  const url = new URL(SERVER_URL);
  url.pathname = `/${BENCH_DB}`;
  await recreateDatabase();

  console.log(`Civic points ledger benchmark: ${TRANSFERS} transfers, ${WORKERS} concurrent workers, PostgreSQL at ${url.host}\n`);
  const floor = await rowAtATimeFloor(url.toString());
  const service = await ledgerService(url.toString());
  const ingest = await earnIngest(url.toString());
  await dropDatabase();

  const rows: [string, RunResult][] = [
    [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
    ['ledger service: one earn per call', service],
    ['floor: plain SQL, one transfer per transaction', floor],
  ];
  console.log(table(rows));
  console.log(`\nratio ledger service / row-at-a-time floor: ${(service.perSecond / floor.perSecond).toFixed(2)}x`);
  console.log(`ratio earn ingest / row-at-a-time floor:    ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
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

/**
 * Earn ingest end to end: a participation service posts batches of 1000 events over HTTP (a few
 * at a time), Bull on Redis carries them to the processing, and the clock stops when every
 * event is posted. p50/p99 are of the HTTP answers (acceptance).
 */
async function earnIngest(url: string): Promise<RunResult> {
  const adminKey = randomBytes(24).toString('base64url');
  const config = loadConfig({
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(WORKERS),
    REDIS_URL: REDIS,
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    ADMIN_API_KEY: adminKey,
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
  await call('/v1/admin/sources', { id: 'votes', name: 'Votes' }, adminKey);
  await call('/v1/admin/earning-rules', { id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' }, adminKey);
  const sourceKey = (await call('/v1/admin/api-clients', { name: 'bench', role: 'source', sourceId: 'votes' }, adminKey)).apiKey as string;
  const prisma = app.get(PrismaService);
  const batches = Math.ceil(EVENTS / EARN_BATCH);
  const occurredAt = new Date().toISOString();
  // the client's payloads are ready before the clock starts, as a participation service's would be
  const body = (b: number) =>
    JSON.stringify({
      events: Array.from({ length: EARN_BATCH }, (_, i) => ({
        externalId: randomUUID(),
        type: 'vote.cast',
        residentId: `b${(b * EARN_BATCH + i) % RESIDENTS}`,
        occurredAt,
      })),
    });
  // warm-up: accounts exist, as in a running programme
  await postFromClient(base, sourceKey, [body(0)], 1);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const bodies = Array.from({ length: batches }, (_, b) => body(b + 1));

  const started = process.hrtime.bigint();
  const latencies = await postFromClient(base, sourceKey, bodies, 4);
  await waitUntil(async () => (await prisma.earnEvent.count({ where: { status: 'received' } })) === 0);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const answers = { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  await app.close();
  return { operations: batches * EARN_BATCH, seconds, perSecond: (batches * EARN_BATCH) / seconds, p50: answers.p50, p99: answers.p99 };
}

/**
 * The participation service: a separate thread posting the batches (`concurrency` at a time), so
 * that the client's work does not run on the service's event loop. Returns sorted latencies (ms).
 */
function postFromClient(base: string, key: string, bodies: string[], concurrency: number): Promise<number[]> {
  const source = `
    const { parentPort, workerData: { base, key, bodies, concurrency } } = require('node:worker_threads');
    (async () => {
      const latencies = [];
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < bodies.length; i = next++) {
          const t0 = performance.now();
          const res = await fetch(base + '/v1/earn-events', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': key }, body: bodies[i] });
          await res.text();
          if (res.status !== 202) throw new Error('intake answered ' + res.status);
          latencies.push(performance.now() - t0);
        }
      }));
      parentPort.postMessage(latencies.sort((a, b) => a - b));
    })().catch((e) => { throw e; });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { base, key, bodies, concurrency } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
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
