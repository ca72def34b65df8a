import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { Client } from 'pg';
import { EarnProcessor } from '../../src/earning/earn-processor.service';
import { EARN_QUEUE } from '../../src/earning/earn-queue';
import { EarnSweeper } from '../../src/earning/earn-sweeper.cron';
import { startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { REDIS_URL } from '../support/services';
import { waitFor } from '../support/wait';
import { startWorker } from '../support/worker';

/**
 * Accepted means durable: losing Redis or a worker between acceptance and posting loses
 * nothing and doubles nothing. These tests use a Redis database of their own (index 7, or
 * TEST_REDIS_OWN_DB when two checkouts test at once), so that wiping it (FLUSHDB: for this
 * service the same as FLUSHALL) disturbs no other test.
 */
const OWN_REDIS = `${REDIS_URL.replace(/\/\d*$/, '')}/${process.env.TEST_REDIS_OWN_DB ?? '7'}`;

describe('durability of accepted earn events', () => {
  let t: TestApp;
  let key: { 'X-API-Key': string };
  let queue: Queue;
  let redis: Redis;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: OWN_REDIS });
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
    key = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201)
      ).body.apiKey,
    };
    queue = t.app.get<Queue>(getQueueToken(EARN_QUEUE));
    redis = new Redis(OWN_REDIS);
  });

  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  const batch = (prefix: string, n: number, residents: number) =>
    Array.from({ length: n }, (_, i) => ({
      externalId: `${prefix}-${i}`,
      type: 'vote.cast',
      residentId: `${prefix}r${i % residents}`,
      occurredAt: new Date().toISOString(),
    }));

  const countByStatus = async (prefix: string) =>
    Object.fromEntries(
      (await t.prisma.earnEvent.groupBy({ by: ['status'], where: { externalId: { startsWith: `${prefix}-` } }, _count: true })).map((g) => [
        g.status,
        g._count,
      ]),
    );

  /** Each event accrued once: one earn transaction per event, and every resident's exact total. */
  const expectAccruedOnce = async (prefix: string, events: number, residents: number) => {
    const earns = await t.prisma.$queryRawUnsafe<{ n: number; distinct_events: number }[]>(
      `SELECT count(*)::int AS n, count(DISTINCT metadata->>'externalId')::int AS distinct_events
       FROM ledger_transactions WHERE type = 'earn' AND metadata->>'externalId' LIKE $1`,
      `${prefix}-%`,
    );
    expect(earns[0]).toEqual({ n: events, distinct_events: events });
    const totals = await t.prisma.$queryRawUnsafe<{ total: string; min: string; max: string }[]>(
      `SELECT sum(x.balance)::text AS total, min(x.balance)::text AS min, max(x.balance)::text AS max FROM (
         SELECT sum(b.credits_posted - b.debits_posted) AS balance FROM account_balances b
         JOIN ledger_accounts a ON a.id = b.account_id WHERE a.code LIKE $1 GROUP BY a.id) x`,
      `resident:${prefix}r%`,
    );
    const each = (events / residents) * 20;
    expect(totals[0]).toEqual({ total: String(events * 20), min: String(each), max: String(each) });
    expect(await ledgerViolations(t.prisma)).toEqual([]);
  };

  it('Redis wiped after acceptance and before processing: the sweeper posts everything, once', async () => {
    await queue.pause(true); // this process stops taking jobs; they wait in Redis
    const events = batch('flush', 600, 60);
    await t.http
      .post('/v1/earn-events')
      .set(key)
      .send({ events: events.slice(0, 300) })
      .expect(202);
    await t.http
      .post('/v1/earn-events')
      .set(key)
      .send({ events: events.slice(300) })
      .expect(202);
    expect(await queue.getWaitingCount()).toBe(2);

    await redis.flushdb();
    await queue.resume(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await countByStatus('flush')).toEqual({ received: 600 });

    expect(await t.app.get(EarnSweeper).sweep(new Date(Date.now() + 1000))).toBe(600);
    expect(await countByStatus('flush')).toEqual({ posted: 600 });
    await expectAccruedOnce('flush', 600, 60);

    // a late redelivery of the same events does nothing
    const ids = (await t.prisma.earnEvent.findMany({ where: { externalId: { startsWith: 'flush-' } }, select: { id: true } })).map(
      (e) => e.id,
    );
    expect(await t.app.get(EarnProcessor).processBatch(ids)).toBe(0);
    await expectAccruedOnce('flush', 600, 60);
  });

  it('a batch some of whose events another worker holds: those are left to it, the rest posted in arrival order', async () => {
    await queue.pause(true); // only this test's calls process
    await t.http
      .post('/v1/earn-events')
      .set(key)
      .send({ events: batch('held', 8, 8) })
      .expect(202);
    const events = await t.prisma.earnEvent.findMany({ where: { externalId: { startsWith: 'held-' } }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => e.externalId)).toEqual(Array.from({ length: 8 }, (_, i) => `held-${i}`));
    const held = events.slice(2, 5).map((e) => e.id);
    const other = new Client({ connectionString: t.databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM earn_events WHERE id = ANY($1::uuid[]) FOR UPDATE', [held]);
      // given in reverse: the events are still processed (and their transactions made) in arrival order
      expect(await t.app.get(EarnProcessor).processBatch(events.map((e) => e.id).reverse())).toBe(5);
      expect(await countByStatus('held')).toEqual({ posted: 5, received: 3 });
      const { rows } = await other.query<{ id: string; status: string }>('SELECT id, status FROM earn_events WHERE id = ANY($1::uuid[])', [
        held,
      ]);
      expect(rows.map((r) => r.status)).toEqual(['received', 'received', 'received']);
      await other.query('ROLLBACK');
    } finally {
      await other.end();
    }
    // an id given twice is one event, processed once
    expect(await t.app.get(EarnProcessor).processBatch([...held, held[0]])).toBe(3);
    expect(await t.app.get(EarnProcessor).processBatch(events.map((e) => e.id))).toBe(0);
    const order = await t.prisma.$queryRawUnsafe<{ external_id: string }[]>(
      `SELECT metadata->>'externalId' AS external_id FROM ledger_transactions WHERE type = 'earn' AND metadata->>'externalId' LIKE 'held-%' ORDER BY seq`,
    );
    expect(order.map((r) => r.external_id)).toEqual(['held-0', 'held-1', 'held-5', 'held-6', 'held-7', 'held-2', 'held-3', 'held-4']);
    await expectAccruedOnce('held', 8, 8);
    await queue.empty();
    await queue.resume(true);
  });

  it('a worker process killed in the middle of its batches: nothing lost, nothing posted twice', async () => {
    await queue.pause(true); // only the separate worker process consumes
    const worker = startWorker(t, OWN_REDIS);
    try {
      await new Promise((r) => setTimeout(r, 2500)); // let it boot and connect
      const events = batch('kill', 6000, 300);
      for (let i = 0; i < 6; i++) {
        await t.http
          .post('/v1/earn-events')
          .set(key)
          .send({ events: events.slice(i * 1000, (i + 1) * 1000) })
          .expect(202);
      }
      await waitFor(async () => ((await countByStatus('kill')).posted ?? 0) > 0, 30_000, 'the worker to post something');
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      const midway = await countByStatus('kill');
      expect(midway.received ?? 0).toBeGreaterThan(0);
    } finally {
      if (worker.exitCode === null) worker.kill('SIGKILL');
    }
    // the killed worker's open transaction is rolled back when PostgreSQL notices the lost
    // connection; until then its events are locked and the sweeper leaves them for its next run
    await waitFor(
      async () => {
        await t.app.get(EarnSweeper).sweep(new Date(Date.now() + 1000));
        const now = await countByStatus('kill');
        return now.posted === 6000 && !now.received ? now : undefined;
      },
      30_000,
      'the sweeper to post the rest',
    );
    expect(await countByStatus('kill')).toEqual({ posted: 6000 });
    await expectAccruedOnce('kill', 6000, 300);
    await queue.resume(true);
  });
});

describe('intake while Redis is down', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' }); // nothing listens there
  });

  afterAll(() => t.close());

  it('still accepts (durably) and answers promptly; the sweeper posts the events', async () => {
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
    const key = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201))
      .body.apiKey;
    const started = Date.now();
    const res = await t.http
      .post('/v1/earn-events')
      .set('X-API-Key', key)
      .send({ events: [{ externalId: 'down-1', type: 'vote.cast', residentId: 'anna', occurredAt: new Date().toISOString() }] })
      .expect(202);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.body.results[0].status).toBe('accepted');
    expect((await t.http.get('/v1/earn-events/down-1').set('X-API-Key', key).expect(200)).body.status).toBe('received');
    expect(await t.app.get(EarnSweeper).sweep(new Date(Date.now() + 1000))).toBe(1);
    expect((await t.http.get('/v1/earn-events/down-1').set('X-API-Key', key).expect(200)).body).toMatchObject({
      status: 'posted',
      points: '20',
    });
  });
});
