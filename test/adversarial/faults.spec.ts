import { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { Client } from 'pg';
import { EARN_QUEUE } from '../../src/earning/earn-queue';
import { EarnSweeper } from '../../src/earning/earn-sweeper.cron';
import { startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { REDIS_URL } from '../support/services';
import { waitFor } from '../support/wait';
import { startWorker } from '../support/worker';
import { Answer, baseUrlOf, failedChecks, INTERNALS, reconcile, send } from './support';

/**
 * A failing machine: under a steady load of earn batches, redemptions and transfers, a worker
 * process is killed in the middle of its batches, Redis loses its data and every connection to
 * it, and PostgreSQL drops every connection of the service while transactions are in flight
 * (more than once). Requests caught in a fault may fail (5xx, never with internals); clients then
 * retry with the same idempotency key or batch, as the contract tells them to. After recovery:
 * every earn event accepted with 202 is posted exactly once, every accepted money move exists
 * exactly once, the books balance and the reconciliation passes.
 *
 * Redis: a database of its own (TEST_REDIS_FAULTS_DB, default one above the durability tests'),
 * wiped with FLUSHDB and its clients killed one by one; the shared Redis server is never
 * restarted or flushed whole.
 */
const FAULTS_DB = process.env.TEST_REDIS_FAULTS_DB ?? String(Number(process.env.TEST_REDIS_OWN_DB ?? '7') + 1);
const OWN_REDIS = `${REDIS_URL.replace(/\/\d*$/, '')}/${FAULTS_DB}`;
const RESIDENTS = 12;

describe('faults under load', () => {
  let t: TestApp;
  let base: string;
  let sourceKey: string;
  let redis: Redis;
  let worker: ChildProcess | undefined;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: OWN_REDIS, DATABASE_POOL_SIZE: '12' });
    base = await baseUrlOf(t);
    redis = new Redis(OWN_REDIS);
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'ticket',
        kind: 'TICKET',
        title: 'Ticket',
        partnerId: 'cafe',
        pricePoints: '10',
        codeSource: 'GENERATED',
        stock: 100_000,
      })
      .expect(201);
    sourceKey = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201))
      .body.apiKey;
    for (let i = 0; i < RESIDENTS; i++) {
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId: `f${i}`, amount: '5000', reason: 'opening' })
        .expect(201);
    }
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    redis.disconnect();
    await t.close();
  });

  it('a killed worker, a wiped Redis and dropped database connections lose nothing accepted and double nothing', async () => {
    const queue = t.app.get<Queue>(getQueueToken(EARN_QUEUE));
    await queue.pause(true); // the worker process does the processing, until it is killed
    worker = startWorker(t, OWN_REDIS);
    await new Promise((r) => setTimeout(r, 2500)); // let it boot and connect

    // --- the load: earn batches, redemptions and transfers, each remembered with what answered it
    type Sent = { kind: 'earn' | 'redeem' | 'transfer'; body: object; key?: string; resident: string; answer?: Answer };
    const sent: Sent[] = [];
    let stop = false;
    let batchNo = 0;
    const earnLoop = async () => {
      while (!stop) {
        const b = batchNo++;
        const events = Array.from({ length: 100 }, (_, i) => ({
          externalId: `fault-${b}-${i}`,
          type: 'vote.cast',
          residentId: `f${(b + i) % RESIDENTS}`,
          occurredAt: new Date(Date.now() - 60_000).toISOString(),
        }));
        const s: Sent = { kind: 'earn', body: { events }, resident: '' };
        sent.push(s);
        s.answer = await post('/v1/earn-events', { 'X-API-Key': sourceKey }, s.body);
      }
    };
    let spendNo = 0;
    const spendLoop = async () => {
      while (!stop) {
        const i = spendNo++;
        const resident = `f${i % RESIDENTS}`;
        const s: Sent =
          i % 2
            ? { kind: 'redeem', resident, key: randomUUID(), body: { itemId: 'ticket' } }
            : {
                kind: 'transfer',
                resident,
                key: randomUUID(),
                body: {
                  type: 'transfer',
                  postings: [
                    { account: `resident:${resident}`, asset: 'POINTS', debit: '5' },
                    { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '5' },
                  ],
                },
              };
        sent.push(s);
        s.answer = await spend(s);
      }
    };
    const post = (path: string, headers: Record<string, string>, body: object) =>
      send(base, { method: 'POST', path, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).catch(
        (error: Error): Answer => ({ status: 0, contentType: '', headers: new Headers(), text: String(error), body: undefined }),
      );
    const spend = (s: Sent) =>
      s.kind === 'redeem'
        ? post('/v1/me/redemptions', { ...t.residentAuth(s.resident), 'Idempotency-Key': s.key! }, s.body)
        : post('/v1/ledger/transactions', { ...t.admin, 'Idempotency-Key': s.key! }, s.body);

    // --- the faults, injected while the load runs
    const faults: string[] = [];
    const terminatePostgres = async () => {
      const admin = new Client({ connectionString: t.databaseUrl });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        );
        faults.push(`PostgreSQL: ${rows.length} connections of the service terminated mid-transaction`);
      } finally {
        await admin.end();
      }
    };
    const wipeRedis = async () => {
      await redis.flushdb();
      const me = await redis.client('ID');
      const clients = String(await redis.client('LIST'))
        .split('\n')
        .filter((line) => new RegExp(`\\bdb=${FAULTS_DB}\\b`).test(line))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1])
        .filter((id) => id && Number(id) !== Number(me));
      for (const id of clients) await redis.client('KILL', 'ID', id!).catch(() => undefined);
      faults.push(`Redis: database ${FAULTS_DB} flushed and ${clients.length} client connections killed`);
    };
    const chaos = async () => {
      await waitFor(
        async () => (await t.prisma.earnEvent.count({ where: { status: 'posted' } })) > 0,
        30_000,
        'the worker to post something',
      );
      worker!.kill('SIGKILL');
      await new Promise((r) => worker!.once('exit', r));
      faults.push('worker process killed (SIGKILL) in the middle of its batches');
      await new Promise((r) => setTimeout(r, 300));
      await terminatePostgres();
      await new Promise((r) => setTimeout(r, 500));
      await wipeRedis();
      await new Promise((r) => setTimeout(r, 500));
      await terminatePostgres();
      await new Promise((r) => setTimeout(r, 300));
      await wipeRedis();
      await terminatePostgres();
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
    };
    await Promise.all([earnLoop(), earnLoop(), spendLoop(), spendLoop(), spendLoop(), spendLoop(), chaos()]);

    // --- what the clients saw: successes, documented refusals, or a fault (5xx without internals, or no answer)
    const failed = sent.filter((s) => !s.answer || s.answer.status === 0 || s.answer.status >= 500);
    for (const s of sent) {
      expect(s.answer!.text).not.toMatch(INTERNALS);
      if (s.answer!.status >= 400) expect(s.answer!.contentType).toMatch(/^application\/problem\+json/);
    }
    const refused = sent.filter((s) => s.answer && s.answer.status >= 400 && s.answer.status < 500);
    expect(refused.map((s) => s.answer!.body)).toEqual([]);

    // --- recovery: the service answers again; clients retry what failed, with the same key or batch
    await waitFor(async () => (await t.http.get('/health/ready')).status === 200, 30_000, 'readiness');
    for (const s of failed) {
      s.answer = s.kind === 'earn' ? await post('/v1/earn-events', { 'X-API-Key': sourceKey }, s.body) : await spend(s);
      expect([s.answer.status, s.answer.body]).toEqual([s.kind === 'earn' ? 202 : 201, expect.anything()]);
    }
    await queue.resume(true);
    await waitFor(
      async () => {
        await t.app.get(EarnSweeper).sweep(new Date(Date.now() + 1000));
        return (await t.prisma.earnEvent.count({ where: { status: 'received' } })) === 0;
      },
      60_000,
      'the sweeper to post every accepted event',
    );

    // --- nothing accepted lost, nothing doubled
    const accepted = sent
      .filter((s) => s.kind === 'earn')
      .flatMap((s) => (s.answer!.body as { results: { externalId: string; status: string }[] }).results)
      .filter((r) => r.status === 'accepted' || r.status === 'duplicate');
    const allSent = sent.filter((s) => s.kind === 'earn').reduce((n, s) => n + (s.body as { events: unknown[] }).events.length, 0);
    expect(new Set(accepted.map((r) => r.externalId)).size).toBe(allSent);
    const earns = await t.prisma.$queryRawUnsafe<{ n: number; events: number; posted: number }[]>(
      `SELECT count(*)::int AS n, count(DISTINCT t.metadata->>'externalId')::int AS events,
              (SELECT count(*)::int FROM earn_events WHERE status = 'posted' AND external_id LIKE 'fault-%') AS posted
       FROM ledger_transactions t WHERE t.type = 'earn' AND t.metadata->>'externalId' LIKE 'fault-%'`,
    );
    expect(earns[0]).toEqual({ n: allSent, events: allSent, posted: allSent });

    const spends = sent.filter((s) => s.kind !== 'earn');
    const redemptions = spends.filter((s) => s.kind === 'redeem');
    expect(await t.prisma.redemption.count()).toBe(redemptions.length);
    expect(new Set(redemptions.map((s) => (s.answer!.body as { id: string }).id)).size).toBe(redemptions.length);
    const transfers = await t.prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ledger_transactions WHERE type = 'transfer'`,
    );
    expect(transfers[0].n).toBe(spends.length - redemptions.length);
    // every resident's balance is exactly what was accepted for them
    for (let i = 0; i < RESIDENTS; i++) {
      const resident = `f${i}`;
      const earned =
        20 *
        Number(
          (
            await t.prisma.$queryRawUnsafe<{ n: number }[]>(
              `SELECT count(*)::int AS n FROM earn_events WHERE resident_id = $1 AND status = 'posted'`,
              resident,
            )
          )[0].n,
        );
      const spent = spends.filter((s) => s.resident === resident).reduce((sum, s) => sum + (s.kind === 'redeem' ? 10 : 5), 0);
      const balance = (await t.http.get('/v1/me/balance').set(t.residentAuth(resident)).expect(200)).body.available;
      expect(balance).toBe(String(5000 + earned - spent));
    }
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    const report = await reconcile(t);
    expect(failedChecks(report)).toEqual([]);

    console.log(
      `faults: ${faults.length} injected (${faults.join('; ')}); load: ${allSent} earn events in ${batchNo} batches, ` +
        `${spends.length} money moves; ${failed.length} requests failed in the faults and were retried ` +
        `(${failed.filter((s) => s.kind === 'earn').length} earn batches, ${failed.filter((s) => s.kind !== 'earn').length} money moves); ` +
        `${5 + RESIDENTS + report.checks.length + 4} invariants checked`,
    );
    expect(faults.length).toBeGreaterThanOrEqual(6);
  });
});
