import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { childrenOf, freePort, OwnRedis, PostgresPair } from '../support/topology';
import { waitFor } from '../support/wait';

/**
 * The service past one machine, on loopback: a PostgreSQL primary with a streaming replica, a
 * Redis, two API processes (API_PROCESSES=2, PROCESS_ROLE=api) and two workers. Under mixed load
 * (earn batches, redemptions, code validations, audit and history reads) one API process and one
 * worker are killed with SIGKILL, Redis is restarted and the replica is stopped for a while.
 * Afterwards every accepted event is posted exactly once, no code is redeemed twice, every
 * request was answered (clients retry what a killed process held, with their idempotency keys),
 * a partner key's rate limit holds in total across the processes, and a reconciliation passes
 * on the primary with the replica caught up. `npm run topology` runs this file alone.
 */
const root = join(__dirname, '..', '..');
const ADMIN = `admin-${randomBytes(24).toString('base64url')}`;
const JWT = randomBytes(32).toString('base64url');
const RATE = 60;
const DB = 'civic_ledger_test_topology';

describe('topology: two API processes, two workers, a replica, Redis; faults under load', () => {
  const pg = new PostgresPair();
  const redis = new OwnRedis();
  let api: ChildProcess;
  const workers: ChildProcess[] = [];
  let port: number;
  let env: Record<string, string>;
  const logs: string[] = [];

  const url = (path: string) => `http://127.0.0.1:${port}${path}`;

  const startProcess = (script: string, extra: Record<string, string> = {}): ChildProcess => {
    const child = spawn(process.execPath, [join(root, 'dist', script)], {
      cwd: root,
      env: { ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => logs.push(d.toString());
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    return child;
  };

  /** One request, retried (same body, same headers: same idempotency key) while no process answers it. */
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(url(path), {
          method,
          headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        // a 5xx from a process that lost Redis or the replica mid-request is retried like a lost connection
        if (res.status >= 500 && attempt < 20) throw new Error(`${res.status} ${text}`);
        return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      } catch (error) {
        stats.retries++;
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const stats = { retries: 0 };

  beforeAll(async () => {
    await pg.start();
    const admin = new Client({ connectionString: pg.url('primary', 'postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DB}`);
    await admin.end();
    await redis.start();
    port = await freePort();
    env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: pg.url('primary', DB),
      DATABASE_REPLICA_URL: pg.url('replica', DB),
      REPLICA_MAX_LAG_MS: '2000',
      REDIS_URL: redis.url,
      ADMIN_API_KEY: ADMIN,
      RESIDENT_JWT_SECRET: JWT,
      PARTNER_CODE_RATE_PER_MINUTE: String(RATE),
      API_KEY_CACHE_SECONDS: '60',
      EARN_SWEEP_SECONDS: '2',
      EARN_STALE_SECONDS: '2',
      SHUTDOWN_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'warn',
    };
    // the API's primary applies the migrations before it starts its processes; the workers wait for its lock
    api = startProcess('main.js', { API_PROCESSES: '2', PROCESS_ROLE: 'api' });
    workers.push(startProcess('worker.js'), startProcess('worker.js'));
    await waitFor(
      async () => childrenOf(api.pid!).length === 2 && (await fetch(url('/health/ready')).catch(() => null))?.status === 200,
      240_000,
      'the API processes ready',
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs.join('').slice(-4000)}`);
    });
  }, 360_000);

  afterAll(async () => {
    for (const p of [api, ...workers]) if (p && p.exitCode === null) p.kill('SIGKILL');
    if (api?.pid) for (const pid of childrenOf(api.pid)) process.kill(pid, 'SIGKILL');
    await redis.stop();
    await pg.remove();
  }, 60_000);

  it('keeps every promise through the loss of an API process, a worker, Redis and the replica', async () => {
    const admin = { 'X-API-Key': ADMIN };
    const ok = async (p: Promise<{ status: number; body: Record<string, unknown> }>, status = 201) => {
      const res = await p;
      if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    await ok(call('POST', '/v1/admin/sources', admin, { id: 'reports', name: 'Reports' }));
    await ok(
      call('POST', '/v1/admin/earning-rules', admin, { id: 'report', sourceId: 'reports', eventType: 'report.confirmed', points: '100' }),
    );
    const source = {
      'X-API-Key': (await ok(call('POST', '/v1/admin/api-clients', admin, { name: 's', role: 'source', sourceId: 'reports' })))
        .apiKey as string,
    };
    await ok(call('POST', '/v1/admin/partners', admin, { id: 'museum', name: 'Museum', kind: 'museum' }));
    const till = {
      'X-API-Key': (await ok(call('POST', '/v1/admin/api-clients', admin, { name: 't', role: 'partner', partnerId: 'museum' })))
        .apiKey as string,
    };
    // the counter where ten tills redeem one code at once: its own key, since the budget of `till`
    // is spent by the validation loop under load (one budget per key for look-ups and redemptions),
    // and a 429 there would say nothing about exactly-once
    const counter = {
      'X-API-Key': (await ok(call('POST', '/v1/admin/api-clients', admin, { name: 'c', role: 'partner', partnerId: 'museum' })))
        .apiKey as string,
    };
    const limited = {
      'X-API-Key': (await ok(call('POST', '/v1/admin/api-clients', admin, { name: 'l', role: 'partner', partnerId: 'museum' })))
        .apiKey as string,
    };
    await ok(
      call('POST', '/v1/admin/catalogue-items', admin, {
        id: 'ticket',
        kind: 'TICKET',
        title: 'Ticket',
        partnerId: 'museum',
        pricePoints: '30',
        codeSource: 'GENERATED',
      }),
    );
    const residents = Array.from({ length: 20 }, (_, i) => `topo-r${i}`);
    const resident = (id: string) => ({ Authorization: `Bearer ${signResidentToken(id, JWT, 3600)}` });

    // the load: until `stop`, four kinds of clients at once
    let stop = false;
    const accepted = new Set<string>();
    const redemptions = new Map<string, string>(); // idempotency key -> redemption id
    const codes: string[] = [];
    let batch = 0;
    const earners = Array.from({ length: 2 }, async () => {
      while (!stop) {
        const n = batch++;
        const events = Array.from({ length: 50 }, (_, i) => ({
          externalId: `topo-${n}-${i}`,
          type: 'report.confirmed',
          residentId: residents[(n + i) % residents.length],
          occurredAt: new Date().toISOString(),
        }));
        const res = await ok(call('POST', '/v1/earn-events', source, { events }), 202);
        for (const r of res.results as { externalId: string; status: string }[]) if (r.status !== 'rejected') accepted.add(r.externalId);
      }
    });
    const redeemers = Array.from({ length: 2 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const who = residents[(i * 2 + w) % residents.length];
        const key = randomUUID();
        const res = await call('POST', '/v1/me/redemptions', { ...resident(who), 'Idempotency-Key': key }, { itemId: 'ticket' });
        if (res.status === 201) {
          redemptions.set(key, res.body.id as string);
          codes.push(...(res.body.codes as { code: string }[]).map((c) => c.code));
        } else if (res.status !== 409) throw new Error(`redemption: ${res.status} ${JSON.stringify(res.body)}`);
        else await new Promise((r) => setTimeout(r, 100));
      }
    });
    const readers = (async () => {
      for (let i = 0; !stop; i++) {
        const res = await call(
          'GET',
          i % 2 ? '/v1/audit/trial-balance' : '/v1/me/history',
          i % 2 ? admin : resident(residents[i % residents.length]),
        );
        expect(res.status).toBe(200);
      }
    })();
    const validators = (async () => {
      for (let i = 0; !stop; i++) {
        const code = codes[i % Math.max(1, codes.length)] ?? 'NOSUCHCODE';
        const res = await call('GET', `/v1/partner/codes/${code}`, till);
        expect([200, 404, 429]).toContain(res.status);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const load = Promise.all([...earners, ...redeemers, readers, validators]);

    // the faults, one after another, under that load
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(3_000);
    const [victim] = childrenOf(api.pid!);
    process.kill(victim, 'SIGKILL'); // an API process (the primary starts another)
    await pause(2_000);
    workers[0].kill('SIGKILL'); // a worker, and a new one in its place
    workers[0] = startProcess('worker.js');
    await pause(2_000);
    const redisPort = redis.port;
    await redis.stop(); // Redis restarts (empty: nothing is kept on disk)
    await pause(1_000);
    await redis.start(redisPort);
    await pause(2_000);
    pg.stopServer('replica'); // the replica goes away for a while: reads on the primary
    await pause(3_000);
    pg.startServer('replica');
    await pause(2_000);
    stop = true;
    await load;

    // every accepted event posted, each exactly once
    const db = new Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    try {
      await waitFor(
        async () => {
          const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM earn_events WHERE status <> 'posted'`)).rows;
          return n === 0;
        },
        60_000,
        'every accepted event posted',
      );
      const [events] = (
        await db.query<{ events: number; earns: number; distinct_events: number }>(
          `SELECT (SELECT count(*)::int FROM earn_events) AS events,
                  count(*)::int AS earns, count(DISTINCT metadata->>'externalId')::int AS distinct_events
           FROM ledger_transactions WHERE type = 'earn'`,
        )
      ).rows;
      expect(events.events).toBe(accepted.size);
      expect(events.earns).toBe(accepted.size);
      expect(events.distinct_events).toBe(accepted.size);
      // each redemption answered 201 exists once; no key made two
      const [r] = (await db.query<{ n: number; keys: number }>(`SELECT count(*)::int AS n FROM redemptions`)).rows;
      expect(r.n).toBe(redemptions.size);
      expect(new Set(redemptions.values()).size).toBe(redemptions.size);
      expect(redemptions.size).toBeGreaterThan(0);
    } finally {
      await db.end();
    }

    // one code, redeemed by ten tills at once across the processes: once
    const code = codes[0];
    const attempts = await Promise.all(Array.from({ length: 10 }, () => call('POST', `/v1/partner/codes/${code}/redeem`, counter)));
    const answers = attempts.map((a) => (a.status === 200 ? '200' : `${a.status} ${String(a.body.code)}`)).sort();
    expect(answers).toEqual(['200', ...Array.from({ length: 9 }, () => '409 code_already_redeemed')]);

    // a partner key's budget holds in total across both API processes (Redis is back)
    const looks = await Promise.all(Array.from({ length: RATE + 20 }, (_, i) => call('GET', `/v1/partner/codes/NOSUCH${i}`, limited)));
    expect(looks.filter((l) => l.status === 404)).toHaveLength(RATE);
    expect(looks.filter((l) => l.status === 429)).toHaveLength(20);

    // the replica caught up, and it serves the audit reads: its own count of scans of the ledger's
    // tables grows with them (the processes' lag probe, which also runs there, reads no table)
    await waitFor(() => pg.replicaCaughtUp(), 30_000, 'the replica caught up');
    const replica = new Client({ connectionString: env.DATABASE_REPLICA_URL });
    await replica.connect();
    try {
      const scans = async () =>
        (
          await replica.query<{ scans: number }>(
            `SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)::int AS scans FROM pg_stat_user_tables
             WHERE relname LIKE 'ledger\\_%' OR relname = 'account_balances'`,
          )
        ).rows[0].scans;
      const before = await scans();
      await waitFor(
        async () => {
          await ok(call('GET', '/v1/audit/trial-balance', admin), 200);
          // the statistics of a server reach its view within a second
          await new Promise((r) => setTimeout(r, 200));
          return (await scans()) > before;
        },
        30_000,
        'an audit read served by the replica',
      );
    } finally {
      await replica.end();
    }
    // a reconciliation on the primary passes
    const { id } = await ok(call('POST', '/v1/audit/reconciliations', admin), 202);
    const run = await waitFor(
      async () => {
        const res = await call('GET', `/v1/audit/reconciliations/${id as string}`, admin);
        return res.body.status === 'running' ? undefined : res.body;
      },
      120_000,
      'the reconciliation',
    );
    expect({ status: run.status, failed: (run.checks as { name: string; passed: boolean }[]).filter((c) => !c.passed) }).toEqual({
      status: 'passed',
      failed: [],
    });
    // the killed API process was replaced
    expect(childrenOf(api.pid!)).toHaveLength(2);
    expect(childrenOf(api.pid!)).not.toContain(victim);
  }, 300_000);
});
