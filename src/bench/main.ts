import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { LedgerService, NewTransaction } from '../ledger/ledger.service';
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
const EVENTS = Number(option('events', '60000'));
const EARN_BATCH = 1000;
const REDIS = option('redis', 'redis://127.0.0.1:6379');
const REDEMPTIONS = Number(option('redemptions', '3000'));
const VALIDATIONS = Number(option('validations', '20000'));
const RECONCILE_POSTINGS = Number(option('reconcile', '1000000'));
/** `--only reconcile`, `--only catalogue` or `--only earn`: just those scenarios (while working on one) */
const ONLY = option('only', 'all');
/** history entries of the heavy resident in the reads scenario */
const HISTORY = Number(option('history', '100000'));
/** `--soak N`: N seconds of steady mixed load after the scenarios, RSS sampled as it goes (0: none) */
const SOAK_SECONDS = Number(option('soak', '0'));

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
  if (ONLY === 'earn') {
    const floor = await rowAtATimeFloor(url.toString());
    const service_ = await startService(url.toString());
    const ingest = await earnIngest(service_);
    await service_.app.close();
    await dropDatabase();
    console.log(table([[`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest], ['floor: plain SQL, one transfer per transaction', floor]]));
    console.log(`ratio earn ingest / row-at-a-time floor: ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
    return;
  }
  if (ONLY === 'catalogue') {
    const service_ = await startService(url.toString());
    const { redemptions, validations, httpBaseline, plainValidations } = await catalogue(service_);
    await service_.app.close();
    await dropDatabase();
    console.log(
      table([
        ['redemptions: HTTP, 64 residents at once', redemptions],
        ['partner validations: HTTP, 32 tills at once', validations],
        ['HTTP baseline: GET /health/live, 32 clients (no database)', httpBaseline],
        ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
      ]),
    );
    console.log(
      `partner validations per second: ${validations.perSecond.toFixed(0)} (target 5000; ${(validations.perSecond / plainValidations.perSecond).toFixed(2)}x the plain server)`,
    );
    return;
  }
  console.log(`Civic points ledger benchmark: ${TRANSFERS} transfers, ${WORKERS} concurrent workers, PostgreSQL at ${url.host}\n`);
  const floor = await rowAtATimeFloor(url.toString());
  const ceiling = await batchedCeiling(url.toString());
  const service = await ledgerService(url.toString());
  const service_ = await startService(url.toString());
  const rssStart = process.memoryUsage().rss;
  const ingest = await earnIngest(service_);
  const { redemptions, validations, httpBaseline, plainValidations } = await catalogue(service_);
  const reads = await readScenarios(service_);
  const soak = SOAK_SECONDS > 0 ? await soakLoad(service_, SOAK_SECONDS) : undefined;
  const rssEnd = process.memoryUsage().rss;
  await service_.app.close();
  const reconcile = RECONCILE_POSTINGS > 0 ? await reconciliation(url.toString()) : undefined;
  await dropDatabase();

  const rows: [string, RunResult][] = [
    [`earn ingest: HTTP batches of ${EARN_BATCH} until posted (events)`, ingest],
    ['ledger service: one earn per call', service],
    ['redemptions: HTTP, 64 residents at once', redemptions],
    ['partner validations: HTTP, 32 tills at once', validations],
    ['HTTP baseline: GET /health/live, 32 clients (no database)', httpBaseline],
    ['plain validations: bare node:http + the same SQL, 32 tills', plainValidations],
    ...reads.rows,
    ['floor: plain SQL, one transfer per transaction', floor],
    ['ceiling: plain SQL, 1000 transfers per statement', ceiling],
    ...(reconcile ? ([[`reconciliation of ${RECONCILE_POSTINGS} postings (one run)`, reconcile]] as [string, RunResult][]) : []),
  ];
  console.log(table(rows));
  console.log(`\nratio ledger service / row-at-a-time floor: ${(service.perSecond / floor.perSecond).toFixed(2)}x`);
  console.log(`ratio earn ingest / row-at-a-time floor:    ${(ingest.perSecond / floor.perSecond).toFixed(2)}x (target 10x)`);
  console.log(`ratio redemptions / row-at-a-time floor:    ${(redemptions.perSecond / floor.perSecond).toFixed(2)}x (target 0.5x)`);
  console.log(`partner validations per second:             ${validations.perSecond.toFixed(0)} (target 5000; ${(validations.perSecond / httpBaseline.perSecond).toFixed(2)}x the HTTP baseline, ${(validations.perSecond / plainValidations.perSecond).toFixed(2)}x the plain server)`);
  console.log(`ratio earn ingest / batched plain-SQL ceiling: ${(ingest.perSecond / ceiling.perSecond).toFixed(2)}x`);
  console.log(`balance read, ${HISTORY} history entries vs one: p50 ${reads.heavyP50.toFixed(2)} ms vs ${reads.lightP50.toFixed(2)} ms (${(reads.heavyP50 / reads.lightP50).toFixed(2)}x; target: independent of history length)`);
  const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  console.log(`RSS of the process serving (and loading) it: ${mb(rssStart)} at the start of the HTTP scenarios, ${mb(rssEnd)} at the end`);
  if (soak) console.log(`soak, ${SOAK_SECONDS} s of mixed load at ${soak.perSecond.toFixed(0)} requests/s: RSS ${soak.samples.map(mb).join(' → ')}`);
}

/**
 * The same transfers as the floor, written as plainly but as set-based as SQL allows: 1000
 * transfers a statement pair (the balances moved by their sums, the postings inserted from a
 * series), one database transaction each: the ceiling any batching could approach.
 */
async function batchedCeiling(url: string): Promise<RunResult> {
  const pool = new Pool({ connectionString: url, max: 4 });
  await pool.query(`
    CREATE TABLE ceiling_balances (account TEXT PRIMARY KEY, balance NUMERIC NOT NULL DEFAULT 0);
    CREATE TABLE ceiling_postings (id BIGSERIAL PRIMARY KEY, transfer BIGINT NOT NULL, account TEXT NOT NULL, amount NUMERIC NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO ceiling_balances (account) SELECT 'resident:b' || g FROM generate_series(0, ${RESIDENTS - 1}) g;
    INSERT INTO ceiling_balances (account) VALUES ('programme:issued');`);
  const batch = 1000;
  const batches = Math.ceil((TRANSFERS * 5) / batch);
  const result = await measure(batches, 4, async (b) => {
    const client = await pool.connect();
    try {
      const first = b * batch;
      await client.query('BEGIN');
      await client.query(
        `UPDATE ceiling_balances c SET balance = c.balance + d.delta
         FROM (SELECT 'resident:b' || (g % ${RESIDENTS}) AS account, 10 * count(*) AS delta FROM generate_series($1::bigint, $1::bigint + $2 - 1) g GROUP BY 1
               UNION ALL SELECT 'programme:issued', -10 * $2) d
         WHERE c.account = d.account`,
        [first, batch],
      );
      await client.query(
        `INSERT INTO ceiling_postings (transfer, account, amount)
         SELECT g, 'programme:issued', -10 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g
         UNION ALL SELECT g, 'resident:b' || (g % ${RESIDENTS}), 10 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
        [first, batch],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  await pool.end();
  // per transfer, as the other rows count them
  const transfers = batches * batch;
  return { operations: transfers, seconds: result.seconds, perSecond: transfers / result.seconds, p50: result.p50, p99: result.p99 };
}

/**
 * Reads over HTTP: a resident's balance with HISTORY entries behind it and with one (the
 * balance must not depend on history length), history pages (first and deep, by cursor), and
 * the trial balance now and as of a past moment.
 */
async function readScenarios({ app, base, adminKey }: BenchApp): Promise<{ rows: [string, RunResult][]; heavyP50: number; lightP50: number }> {
  const ledger = app.get(LedgerService);
  const config = app.get<AppConfig>(APP_CONFIG);
  const one = new Decimal(1);
  const accrual = (resident: string): NewTransaction => ({
    type: 'earn',
    description: 'Vote in a city poll',
    postings: [
      { account: 'programme:issued', asset: 'POINTS', side: 'D', amount: one },
      { account: `resident:${resident}`, asset: 'POINTS', side: 'C', amount: one },
    ],
  });
  for (let written = 0; written < HISTORY; written += 1000) {
    await ledger.recordMany(Array.from({ length: Math.min(1000, HISTORY - written) }, () => accrual('heavy')));
  }
  await ledger.record(accrual('light'));
  const past = new Date(Date.now() - 1000).toISOString();
  const token = (r: string) => `Bearer ${signResidentToken(r, config.residentJwtSecret!, 3600)}`;
  const get = (path: string, headers: Record<string, string>, n: number): ClientRequest[] =>
    Array.from({ length: n }, () => ({ method: 'GET' as const, path, headers, expect: 200 }));
  const run = async (requests: ClientRequest[], concurrency: number): Promise<RunResult> => {
    const started = process.hrtime.bigint();
    const latencies = await loadFromClient(base, requests, concurrency);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { operations: requests.length, seconds, perSecond: requests.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  };
  const heavy = await run(get('/v1/me/balance', { Authorization: token('heavy') }, 4000), 16);
  const light = await run(get('/v1/me/balance', { Authorization: token('light') }, 4000), 16);
  // a deep page: the cursor of an entry half-way down the heavy resident's history
  const deep = await fetch(`${base}/v1/me/history?limit=100`, { headers: { Authorization: token('heavy') } }).then((r) => r.json() as Promise<{ nextCursor: string | null }>);
  let cursor = deep.nextCursor;
  for (let i = 0; i < 5 && cursor; i++) {
    const page = await fetch(`${base}/v1/me/history?limit=100&cursor=${encodeURIComponent(cursor)}`, { headers: { Authorization: token('heavy') } }).then((r) => r.json() as Promise<{ nextCursor: string | null }>);
    cursor = page.nextCursor;
  }
  const firstPage = await run(get('/v1/me/history?limit=50', { Authorization: token('heavy') }, 2000), 16);
  const deepPage = cursor ? await run(get(`/v1/me/history?limit=50&cursor=${encodeURIComponent(cursor)}`, { Authorization: token('heavy') }, 2000), 16) : firstPage;
  const trialNow = await run(get('/v1/audit/trial-balance', { 'X-API-Key': adminKey }, 200), 4);
  const trialPast = await run(get(`/v1/audit/trial-balance?asOf=${encodeURIComponent(past)}`, { 'X-API-Key': adminKey }, 50), 4);
  return {
    rows: [
      [`balance read: resident with ${HISTORY} history entries`, heavy],
      ['balance read: resident with one entry', light],
      ['history: first page of 50 (heavy resident)', firstPage],
      ['history: a page of 50 past the first 600 (by cursor)', deepPage],
      ['trial balance now (all accounts)', trialNow],
      ['trial balance as of a past moment', trialPast],
    ],
    heavyP50: heavy.p50,
    lightP50: light.p50,
  };
}

/** Steady mixed reads for `seconds` (balances, histories, the catalogue), RSS sampled every tenth. */
async function soakLoad({ base, app }: BenchApp, seconds: number): Promise<{ perSecond: number; samples: number[] }> {
  const config = app.get<AppConfig>(APP_CONFIG);
  const token = `Bearer ${signResidentToken('heavy', config.residentJwtSecret!, 3600 + seconds)}`;
  const mix: ClientRequest[] = [
    { method: 'GET', path: '/v1/me/balance', headers: { Authorization: token }, expect: 200 },
    { method: 'GET', path: '/v1/me/history?limit=20', headers: { Authorization: token }, expect: 200 },
    { method: 'GET', path: '/v1/catalogue', headers: {}, expect: 200 },
  ];
  const samples = [process.memoryUsage().rss];
  const started = Date.now();
  let requests = 0;
  for (let slice = 1; slice <= 10; slice++) {
    while (Date.now() - started < (seconds * 1000 * slice) / 10) {
      const chunk = Array.from({ length: 3000 }, (_, i) => mix[i % mix.length]);
      await loadFromClient(base, chunk, 16);
      requests += chunk.length;
    }
    samples.push(process.memoryUsage().rss);
  }
  return { perSecond: requests / ((Date.now() - started) / 1000), samples };
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
async function catalogue({ app, base, adminKey, call }: BenchApp): Promise<{ redemptions: RunResult; validations: RunResult; httpBaseline: RunResult; plainValidations: RunResult }> {
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

  // the HTTP baseline: the cheapest route through the same stack (middleware, Nest, logging), no database
  const live: ClientRequest[] = Array.from({ length: VALIDATIONS }, () => ({ method: 'GET', path: '/health/live', headers: {}, expect: 200 }));
  const hStarted = process.hrtime.bigint();
  const hLatencies = await loadFromClient(base, live, 32);
  const hSeconds = Number(process.hrtime.bigint() - hStarted) / 1e9;
  const httpBaseline = { operations: VALIDATIONS, seconds: hSeconds, perSecond: VALIDATIONS / hSeconds, p50: percentile(hLatencies, 50), p99: percentile(hLatencies, 99) };
  const plainValidations = await plainValidationServer(app.get<AppConfig>(APP_CONFIG), partnerKey, lookups);
  return { redemptions, validations, httpBaseline, plainValidations };
}

/**
 * The same validations served as plainly as Node allows: a bare node:http server, the key
 * compared with one string, the same SQL on a pg pool of the service's size, the row written
 * as JSON. No framework, guard, rate limit, logging or security headers: what the HTTP stack
 * and the service's own work cost is the ratio to this.
 */
async function plainValidationServer(config: AppConfig, partnerKey: string, lookups: ClientRequest[]): Promise<RunResult> {
  const pool = new Pool({ connectionString: config.database.url, max: config.database.poolSize });
  const server = createServer((req, res) => {
    const code = decodeURIComponent((req.url ?? '').slice('/v1/partner/codes/'.length));
    if (req.headers['x-api-key'] !== partnerKey) return void res.writeHead(401).end();
    pool
      .query({
        name: 'plain_find_code',
        text: `SELECT c.code, c.status, c.item_id, c.valid_until, c.redeemed_at FROM item_codes c
               JOIN catalogue_items i ON i.id = c.item_id WHERE c.code = $1 AND i.partner_id = $2 ORDER BY c.id LIMIT 1`,
        values: [code, 'cafe'],
      })
      .then(({ rows: [row] }) => {
        const body = JSON.stringify(row);
        res.writeHead(row ? 200 : 404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body ?? '') }).end(body);
      })
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const started = process.hrtime.bigint();
    const latencies = await loadFromClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, lookups, 32);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { operations: lookups.length, seconds, perSecond: lookups.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pool.end();
  }
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
  // node:http with keep-alive sockets, one per client: fetch costs the shared CPU about three times as much
  const source = `
    const { parentPort, workerData: { base, requests, concurrency } } = require('node:worker_threads');
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const url = new URL(base);
    const send = (r) => new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.body === undefined ? r.headers : { ...r.headers, 'Content-Length': Buffer.byteLength(r.body) }, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(r.body);
    });
    (async () => {
      const latencies = [];
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < requests.length; i = next++) {
          const r = requests[i];
          const t0 = performance.now();
          const res = await send(r);
          if (res.status !== r.expect) throw new Error(r.method + ' ' + r.path + ' answered ' + res.status + ' ' + res.text.slice(0, 200));
          latencies.push(performance.now() - t0);
        }
      }));
      agent.destroy();
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
