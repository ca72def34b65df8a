import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { WEBHOOK_QUEUE } from '../../src/webhooks/delivery-queue';
import { startTestApp, TestApp } from '../support/app';
import { TestReceiver } from '../support/receiver';
import { REDIS_URL } from '../support/services';
import { waitFor } from '../support/wait';
import { startWorker } from '../support/worker';

/**
 * At least once: deliveries whose jobs are lost (Redis emptied of this app's keys) or whose
 * worker is killed in the middle of an attempt are taken again once their lease runs out, and
 * every event arrives. Only this app's queue prefix is deleted: Redis is shared.
 */
describe('webhook delivery survives the loss of Redis and of a worker', () => {
  let t: TestApp;
  let receiver: TestReceiver;
  let queue: Queue;
  let redis: Redis;
  let votesKey: { 'X-API-Key': string };
  const env = {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_DISPATCH_MS: '100',
    WEBHOOK_RETRY_BASE_MS: '200',
    WEBHOOK_RETRY_MAX_MS: '400',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_LEASE_SECONDS: '2',
  };

  const earn = (prefix: string, n: number) =>
    t.http
      .post('/v1/earn-events')
      .set(votesKey)
      .send({
        events: Array.from({ length: n }, (_, i) => ({
          externalId: `${prefix}-${i}`,
          type: 'vote.cast',
          residentId: `${prefix}r${i % 7}`,
          occurredAt: new Date(Date.now() - 60_000).toISOString(),
        })),
      })
      .expect(202);
  const distinct = (path: string) => new Set(receiver.at(path).map((r) => r.json.data.externalId));
  /** Deletes this app's queue keys only (the test's own prefix), as a Redis flush would for it. */
  const flushOwnKeys = async () => {
    const keys = await redis.keys(`${t.config.queuePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    return keys.length;
  };

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    t = await startTestApp(env);
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
    votesKey = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201)
      ).body.apiKey,
    };
    queue = t.app.get<Queue>(getQueueToken(WEBHOOK_QUEUE));
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    redis.disconnect();
    await t.close();
    await receiver.stop();
  });

  it('jobs lost with Redis: every event still arrives, in order per resident', async () => {
    await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: receiver.url('/flush'), events: ['earn_event.posted'] })
      .expect(201);
    await queue.pause(true); // this process stops taking jobs: they wait in Redis
    await earn('flush', 70);
    await waitFor(async () => (await queue.getWaitingCount()) > 0, 20_000, 'attempts queued in Redis');
    expect(await flushOwnKeys()).toBeGreaterThan(0);
    expect(await queue.getWaitingCount()).toBe(0);
    await queue.resume(true);
    await waitFor(
      async () => (await t.prisma.webhookDelivery.count({ where: { status: 'delivered' } })) === 70,
      60_000,
      'every event delivered',
    );
    expect(distinct('/flush').size).toBe(70);
    // per resident, the events arrive in the order they were posted
    const seqOf = new Map(
      (await t.prisma.earnEvent.findMany({ select: { externalId: true, seq: true } })).map((e) => [e.externalId, e.seq]),
    );
    const byResident = new Map<string, bigint[]>();
    for (const r of receiver.at('/flush'))
      byResident.set(r.json.data.residentId, [...(byResident.get(r.json.data.residentId) ?? []), seqOf.get(r.json.data.externalId)!]);
    for (const seqs of byResident.values()) expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('a worker killed in the middle of its attempts: its deliveries are taken over, none lost', async () => {
    await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: receiver.url('/kill'), events: ['earn_event.posted'] })
      .expect(201);
    await queue.pause(true); // only the separate worker takes jobs
    // the receiver holds the worker's requests, so that it dies with attempts in flight
    receiver.answer = (r) =>
      r.path === '/kill' && r.headers['x-never'] === undefined && killed === false ? 'hang' : { status: 200, body: 'ok' };
    let killed = false;
    // the worker serves the webhook under the same lease as the app (2 s, renewed with each round
    // of deliveries): once it is dead, the app takes the webhook over when that lease runs out
    const worker = startWorker(t, REDIS_URL, { ...env, WEBHOOK_DISPATCH_MS: '60000' });
    try {
      await earn('kill', 40);
      await waitFor(async () => receiver.at('/kill').length >= 3, 30_000, 'the worker to start attempts');
      worker.kill('SIGKILL');
      killed = true;
      await waitFor(async () => worker.exitCode !== null || worker.signalCode !== null, 10_000, 'the worker to die');
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
    expect(await t.prisma.webhookDelivery.count({ where: { status: 'delivered', webhook: { url: receiver.url('/kill') } } })).toBe(0);
    await queue.resume(true);
    const delivered = () => t.prisma.webhookDelivery.count({ where: { status: 'delivered', webhook: { url: receiver.url('/kill') } } });
    await waitFor(async () => (await delivered()) === 40, 60_000, 'every event delivered');
    expect(distinct('/kill').size).toBe(40);
  });
});
