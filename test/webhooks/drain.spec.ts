import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ForegroundWork } from '../../src/infra/process/foreground-work';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository';
import { startTestApp, TestApp } from '../support/app';
import { TestReceiver } from '../support/receiver';
import { waitFor } from '../support/wait';

/**
 * The outbox's drain (issue 17, "Tests and speed"): one process serves a webhook at a time and
 * sends its due deliveries in rounds, up to WEBHOOK_PER_ENDPOINT (4 here) at once, one per
 * resident: a burst reaches a receiver whole, once each, in each resident's order; a receiver
 * that never answers holds only its own attempts; a failed delivery holds its resident's later
 * ones back; a holder whose hand-off was taken over records nothing; an event committed before
 * an earlier one of its resident waits for it.
 */
describe('webhook drain', () => {
  let t: TestApp;
  let receiver: TestReceiver;
  let votesKey: { 'X-API-Key': string };

  const register = async (path: string) =>
    (
      await t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: receiver.url(path), events: ['earn_event.posted'] })
        .expect(201)
    ).body;
  /** `n` events spread over `residents` residents, in batches of up to 100 (each a transaction). */
  const earn = async (prefix: string, n: number, residents: number) => {
    for (let from = 0; from < n; from += 100) {
      await t.http
        .post('/v1/earn-events')
        .set(votesKey)
        .send({
          events: Array.from({ length: Math.min(100, n - from) }, (_, j) => ({
            externalId: `${prefix}-${from + j}`,
            type: 'vote.cast',
            residentId: `${prefix}r${(from + j) % residents}`,
            occurredAt: new Date(Date.now() - 60_000).toISOString(),
          })),
        })
        .expect(202);
    }
  };
  const deliveries = (webhookId: string) =>
    t.prisma.webhookDelivery.findMany({ where: { webhookId }, include: { event: true }, orderBy: { eventSeq: 'asc' } });

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    t = await startTestApp({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_DISPATCH_MS: '100',
      WEBHOOK_PER_ENDPOINT: '4',
      WEBHOOK_RETRY_BASE_MS: '60000',
      WEBHOOK_TIMEOUT_MS: '8000',
      WEBHOOK_LEASE_SECONDS: '30',
    });
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
  });

  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('a burst to one receiver: every event once, several at once but never more than the cap, each resident in order', async () => {
    receiver.answer = (r) => (r.path === '/burst' ? { status: 200, body: 'ok', delayMs: 20 } : { status: 200, body: 'ok' });
    const hook = await register('/burst');
    await earn('burst', 300, 12);
    await waitFor(
      async () => (await t.prisma.webhookDelivery.count({ where: { webhookId: hook.id, status: 'delivered' } })) === 300,
      60_000,
      'every delivery delivered',
    );
    const got = receiver.at('/burst');
    // exactly once each (nothing failed, no hand-off was lost)
    expect(got).toHaveLength(300);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(300);
    // several residents' events at once, never more than WEBHOOK_PER_ENDPOINT
    expect(receiver.maxInFlight('/burst')).toBeGreaterThan(1);
    expect(receiver.maxInFlight('/burst')).toBeLessThanOrEqual(4);
    // each resident's events arrived in the order they happened
    const seqOf = new Map((await deliveries(hook.id)).map((d) => [d.eventId, d.eventSeq]));
    const byResident = new Map<string, bigint[]>();
    for (const r of got) {
      const resident = r.json.data.residentId as string;
      byResident.set(resident, [...(byResident.get(resident) ?? []), seqOf.get(r.headers['webhook-id'])!]);
    }
    expect(byResident.size).toBe(12);
    for (const seqs of byResident.values()) {
      expect(seqs).toHaveLength(25);
      expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
    }
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('while earn batches are being posted (the drain paced), every delivery still arrives once, each resident in order', async () => {
    receiver.answer = () => ({ status: 200, body: 'ok' });
    // foreground work that lasts the whole test: every round of the drain is followed by a pause
    let endForeground!: () => void;
    const foreground = t.app.get(ForegroundWork).run(() => new Promise<void>((resolve) => (endForeground = resolve)));
    try {
      const hook = await register('/paced');
      await earn('paced', 200, 8);
      await waitFor(
        async () => (await t.prisma.webhookDelivery.count({ where: { webhookId: hook.id, status: 'delivered' } })) === 200,
        60_000,
        'every delivery delivered while the foreground work runs',
      );
      const got = receiver.at('/paced');
      expect(got).toHaveLength(200);
      const seqOf = new Map((await deliveries(hook.id)).map((d) => [d.eventId, d.eventSeq]));
      const byResident = new Map<string, bigint[]>();
      for (const r of got) {
        const resident = r.json.data.residentId as string;
        byResident.set(resident, [...(byResident.get(resident) ?? []), seqOf.get(r.headers['webhook-id'])!]);
      }
      expect(byResident.size).toBe(8);
      for (const seqs of byResident.values()) expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)));
      await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
    } finally {
      endForeground();
      await foreground;
    }
  });

  it("a receiver that never answers holds only its own attempts: a live receiver's burst drains meanwhile", async () => {
    receiver.answer = (r) => (r.path === '/dead' ? 'hang' : { status: 200, body: 'ok' });
    const dead = await register('/dead');
    const live = await register('/live');
    await earn('dl', 200, 40);
    await waitFor(
      async () => (await t.prisma.webhookDelivery.count({ where: { webhookId: live.id, status: 'delivered' } })) === 200,
      60_000,
      'the live receiver drained',
    );
    expect(receiver.at('/live')).toHaveLength(200);
    // meanwhile the dead receiver has had at most its cap of attempts open, and none has ended yet
    // (the timeout is 8 s): it held nothing but its own lanes
    expect(receiver.at('/dead').length).toBeGreaterThan(0);
    expect(receiver.at('/dead').length).toBeLessThanOrEqual(4);
    expect(await t.prisma.webhookDelivery.count({ where: { webhookId: dead.id, attempts: { gt: 0 } } })).toBe(0);
    receiver.answer = () => ({ status: 200, body: 'ok' });
    await t.http.delete(`/v1/admin/webhooks/${dead.id}`).set(t.admin).expect(200);
    await t.http.delete(`/v1/admin/webhooks/${live.id}`).set(t.admin).expect(200);
  });

  it("a failed delivery holds its resident's later ones back until its next attempt", async () => {
    receiver.answer = (r) => (r.path === '/down' ? { status: 503, body: 'down' } : { status: 200, body: 'ok' });
    const hook = await register('/down');
    await earn('down', 3, 1);
    const [head, ...later] = await waitFor(
      async () => {
        const rows = await deliveries(hook.id);
        return rows.length === 3 && rows[0].attempts === 1 && rows;
      },
      30_000,
      'the first attempt recorded',
    );
    expect(head).toMatchObject({ status: 'pending', lastStatus: 503 });
    // the retry is 30–60 s away (base 60 s): the later two wait for it, untried
    expect(head.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 20_000);
    for (const d of later) {
      expect(d).toMatchObject({ status: 'pending', attempts: 0 });
      expect(d.nextAttemptAt.getTime()).toBe(head.nextAttemptAt.getTime());
    }
    expect(receiver.at('/down')).toHaveLength(1);
    receiver.answer = () => ({ status: 200, body: 'ok' });
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it("an event committed while an earlier one of its resident is still uncommitted waits for it: the resident's order holds", async () => {
    receiver.answer = () => ({ status: 200, body: 'ok' });
    const hook = await register('/fence');
    // two transactions write the outbox for one resident; the first to draw its position commits last
    const publish = (c: Client, n: number) =>
      c.query(`SELECT webhook_publish(ARRAY['earn_event.posted'], ARRAY['fence-r'], ARRAY[NULL::text], ARRAY['votes'], ARRAY[$1::jsonb])`, [
        JSON.stringify({ residentId: 'fence-r', n }),
      ]);
    const [early, late] = [new Client({ connectionString: t.databaseUrl }), new Client({ connectionString: t.databaseUrl })];
    await Promise.all([early.connect(), late.connect()]);
    try {
      await early.query('BEGIN');
      await publish(early, 1);
      await late.query('BEGIN');
      await publish(late, 2);
      await late.query('COMMIT');
      // the later event is committed and first in its resident's queue as far as anyone can see;
      // it is due, and the dispatcher looks every 100 ms: it still waits for the earlier one
      await new Promise((r) => setTimeout(r, 1_500));
      expect(receiver.at('/fence')).toHaveLength(0);
      await early.query('COMMIT');
      await waitFor(async () => receiver.at('/fence').length === 2, 30_000, 'both delivered');
      expect(receiver.at('/fence').map((r) => r.json.data.n)).toEqual([1, 2]);
    } finally {
      await Promise.all([early.end(), late.end()]);
    }
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('an outbox writer of another database on the server does not hold this drain back (advisory locks are per database)', async () => {
    receiver.answer = () => ({ status: 200, body: 'ok' });
    const hook = await register('/other-db');
    // the shared lock every outbox writer holds until its transaction ends, taken in another database
    const other = new URL(t.databaseUrl);
    other.pathname = '/postgres';
    const foreign = new Client({ connectionString: other.toString() });
    await foreign.connect();
    try {
      await foreign.query('BEGIN');
      // the staged rows' writers' lock, and the expansion's (the events' positions)
      await foreign.query('SELECT pg_advisory_xact_lock_shared(1717, 3), pg_advisory_xact_lock_shared(1717, 1)');
      const [staged] = await t.prisma.$queryRawUnsafe<{ writers: string[] }[]>('SELECT writers FROM webhook_outbox_fence()');
      expect(staged.writers).toEqual([]);
      const [fence] = await t.prisma.$queryRawUnsafe<{ writers: string[] }[]>('SELECT writers FROM webhook_publish_fence()');
      expect(fence.writers).toEqual([]);
      await earn('otherdb', 3, 3);
      await waitFor(async () => receiver.at('/other-db').length === 3, 10_000, "delivered while the other database's writer is open");
    } finally {
      await foreign.query('ROLLBACK').catch(() => undefined);
      await foreign.end();
    }
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('a holder whose hand-off was taken over (its lease ran out) records nothing; the new holder sends again', async () => {
    receiver.answer = () => ({ status: 200, body: 'ok' });
    const repository = t.app.get(WebhooksRepository);
    // this test holds the webhook's hand-off from the start, as a process that then stalls would
    const hook = await register('/stale');
    const first = { webhookId: hook.id as string, token: randomUUID() };
    await t.prisma.$executeRawUnsafe(
      `UPDATE webhooks SET dispatch_token = $2::uuid, dispatch_until = now() + interval '1 hour' WHERE id = $1::uuid`,
      hook.id,
      first.token,
    );
    await earn('stale', 2, 2);
    await waitFor(async () => (await deliveries(hook.id)).length === 2, 30_000, 'the deliveries written');
    const round = await repository.claimRound(first, 16, 30);
    expect(round!.deliveries).toHaveLength(2);
    await t.prisma.$executeRawUnsafe(`UPDATE webhooks SET dispatch_until = now() - interval '1 second' WHERE id = $1::uuid`, hook.id);
    await waitFor(async () => receiver.at('/stale').length === 2, 30_000, 'the new holder sending');
    // the stale holder's outcomes are dropped, and it gets no further round
    const at = new Date();
    const outcomes = round!.deliveries.map((d) => ({
      id: d.id,
      status: 'failed' as const,
      at,
      next: null,
      httpStatus: 500,
      response: 'stale',
      error: null,
      orderKey: d.orderKey,
      eventSeq: d.eventSeq,
    }));
    expect(await repository.recordRound(first, outcomes)).toBe(0);
    expect(await repository.claimRound(first, 16, 30)).toBeNull();
    await waitFor(async () => (await deliveries(hook.id)).every((d) => d.status === 'delivered'), 30_000, 'delivered by the new holder');
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });
});
