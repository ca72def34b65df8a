import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, loadFromClient, waitUntil } from '../support/client';
import { plainValidationServer } from './catalogue';

export interface ProcessesResult {
  /** by the number of API processes */
  redemptions: Map<number, RunResult>;
  validations: Map<number, RunResult>;
  plainValidations: RunResult;
}

/**
 * The service as deployed (the built entry point, `API_PROCESSES` = 1, then 2, on one port through
 * node:cluster), driven over HTTP from a thread of its own: the same redemptions and partner
 * validations for each, and the plain validation server beside them, in the same run.
 */
export async function processes(o: BenchOptions, url: string, counts = [1, 2]): Promise<ProcessesResult> {
  const redemptions = new Map<number, RunResult>();
  const validations = new Map<number, RunResult>();
  let last: { partnerKey: string; partnerId: string; lookups: ClientRequest[] } | undefined;
  for (const n of counts) {
    const service = await startBuilt(o, url, n);
    try {
      const run = await drive(o, service, `p${n}`);
      redemptions.set(n, run.redemptions);
      validations.set(n, run.validations);
      last = run;
    } finally {
      await service.stop();
    }
  }
  const plainValidations = await plainValidationServer(
    { database: { url, poolSize: o.workers, dataDir: '' } },
    last!.partnerKey,
    last!.partnerId,
    last!.lookups,
  );
  return { redemptions, validations, plainValidations };
}

interface Built {
  base: string;
  adminKey: string;
  jwtSecret: string;
  stop(): Promise<void>;
}

async function startBuilt(o: BenchOptions, url: string, apiProcesses: number): Promise<Built> {
  const port = await freePort();
  const adminKey = randomBytes(24).toString('base64url');
  const jwtSecret = randomBytes(32).toString('base64url');
  // dist-bench holds the service's build beside the benchmark's
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, '..', '..', 'src', 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      DATABASE_URL: url,
      DATABASE_POOL_SIZE: String(o.workers),
      REDIS_URL: o.redis,
      QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
      ADMIN_API_KEY: adminKey,
      RESIDENT_JWT_SECRET: jwtSecret,
      PARTNER_CODE_RATE_PER_MINUTE: '1000000',
      API_PROCESSES: String(apiProcesses),
      LOG_LEVEL: 'error',
      // e.g. BENCH_SERVICE_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles each process
      ...(process.env.BENCH_SERVICE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVICE_NODE_OPTIONS } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  // the primary stops its API processes on SIGTERM (graceful, bounded); if it has not ended in
  // 30 s, SIGKILL (its workers end with it: their channel to the primary closes)
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`the service (API_PROCESSES=${apiProcesses}) ended with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('the service did not get ready in 60 s');
      return (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200;
    });
  } catch (error) {
    // a service that never got ready is stopped too: it must not outlive the benchmark
    await stop();
    throw error;
  }
  return { base, adminKey, jwtSecret, stop };
}

async function drive(o: BenchOptions, s: Built, prefix: string) {
  const call = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(s.base + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': s.adminKey, ...headers },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const partnerId = `${prefix}-cafe`;
  await call('/v1/admin/partners', { id: partnerId, name: 'Cafe', kind: 'cafe' });
  const partnerKey = (await call('/v1/admin/api-clients', { name: 'till', role: 'partner', partnerId })).apiKey as string;
  const items = ['latte', 'cake', 'tea', 'sandwich'].map((i) => `${prefix}-${i}`);
  for (const id of items) {
    await call('/v1/admin/catalogue-items', { id, kind: 'PROMO_CODE', title: id, partnerId, pricePoints: '10', codeSource: 'GENERATED' });
  }
  const residents = Array.from({ length: 64 }, (_, i) => `${prefix}shopper${i}`);
  const perResident = Math.ceil(o.redemptions / residents.length);
  for (const residentId of residents) {
    await call(
      '/v1/admin/adjustments',
      { residentId, amount: String(perResident * 10), reason: 'bench' },
      { 'Idempotency-Key': randomUUID() },
    );
  }
  const tokens = residents.map((r) => signResidentToken(r, s.jwtSecret, 3600));
  const requests: ClientRequest[] = Array.from({ length: perResident * residents.length }, (_, i) => ({
    method: 'POST',
    path: '/v1/me/redemptions',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${tokens[i % residents.length]}`,
      'Idempotency-Key': randomUUID(),
    },
    body: JSON.stringify({ itemId: items[i % items.length] }),
    expect: 201,
  }));
  const redemptions = await timed(s.base, requests, residents.length);
  // the codes the residents got, as a till would scan them
  const codes: string[] = [];
  for (let r = 0; r < residents.length && codes.length < 2000; r++) {
    const res = await fetch(`${s.base}/v1/me/redemptions?limit=100`, { headers: { Authorization: `Bearer ${tokens[r]}` } });
    for (const red of ((await res.json()) as { items: { codes: { code: string }[] }[] }).items) codes.push(...red.codes.map((c) => c.code));
  }
  const lookups: ClientRequest[] = Array.from({ length: o.validations }, (_, i) => ({
    method: 'GET',
    path: `/v1/partner/codes/${codes[i % codes.length]}`,
    headers: { 'X-API-Key': partnerKey },
    expect: 200,
  }));
  const validations = await timed(s.base, lookups, 32);
  return { redemptions, validations, partnerKey, partnerId, lookups };
}

async function timed(base: string, requests: ClientRequest[], concurrency: number): Promise<RunResult> {
  const started = process.hrtime.bigint();
  const latencies = await loadFromClient(base, requests, concurrency);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    operations: requests.length,
    seconds,
    perSecond: requests.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
