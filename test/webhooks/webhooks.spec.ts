import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Webhook as Verifier } from 'standardwebhooks';
import { WebhookDispatcher } from '../../src/webhooks/webhook-dispatcher.cron';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { Received, TestReceiver } from '../support/receiver';
import { waitFor } from '../support/wait';

/**
 * Webhooks end to end: the service on a real PostgreSQL and Redis sends to a real receiver on
 * 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=true here; URL safety has its own file), retries quickly.
 */
describe('webhooks', () => {
  let t: TestApp;
  let receiver: TestReceiver;
  let votesKey: { 'X-API-Key': string };
  let cafeKey: { 'X-API-Key': string };

  const register = async (body: object) => (await t.http.post('/v1/admin/webhooks').set(t.admin).send(body).expect(201)).body;
  const verify = (secret: string, r: Received) => new Verifier(secret).verify(r.body, r.headers);
  const earn = (events: { externalId: string; residentId: string; type?: string; status?: string }[], key = votesKey) =>
    t.http
      .post('/v1/earn-events')
      .set(key)
      .send({ events: events.map((e) => ({ type: 'vote.cast', occurredAt: new Date(Date.now() - 60_000).toISOString(), ...e })) })
      .expect(202);
  const deliveriesOf = async (id: string) =>
    (await t.http.get(`/v1/admin/webhooks/${id}/deliveries?limit=500`).set(t.admin).expect(200)).body.items;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    t = await startTestApp({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_DISPATCH_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_RETRY_MAX_MS: '400',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_LEASE_SECONDS: '3',
      WEBHOOK_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    for (const id of ['votes', 'ideas']) await t.http.post('/v1/admin/sources').set(t.admin).send({ id, name: id }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'museum', name: 'Museum', kind: 'museum' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'fund', name: 'Fund', kind: 'charity' }).expect(201);
    for (const [id, sourceId] of [
      ['vote', 'votes'],
      ['idea', 'ideas'],
    ]) {
      await t.http
        .post('/v1/admin/earning-rules')
        .set(t.admin)
        .send({ id, sourceId, eventType: `${id}.cast`, points: '20' })
        .expect(201);
    }
    const key = async (body: object) => ({
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send(body).expect(201)).body.apiKey,
    });
    votesKey = await key({ name: 'v', role: 'source', sourceId: 'votes' });
    cafeKey = await key({ name: 'c', role: 'partner', partnerId: 'cafe' });
    for (const [id, partnerId] of [
      ['cake', 'cafe'],
      ['ticket', 'museum'],
    ]) {
      await t.http
        .post('/v1/admin/catalogue-items')
        .set(t.admin)
        .send({ id, kind: 'PROMO_CODE', title: id, partnerId, pricePoints: '10', codeSource: 'GENERATED' })
        .expect(201);
    }
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'shelter', kind: 'DONATION', title: 'Shelter', partnerId: 'fund', minPoints: '10', maxPoints: '1000' })
      .expect(201);
  });

  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('an earn event posted reaches a subscribed webhook, signed (the library verifies it) with the documented body', async () => {
    const hook = await register({ url: receiver.url('/posted'), events: ['earn_event.posted'], description: 'city' });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(hook).toMatchObject({
      url: receiver.url('/posted'),
      events: ['earn_event.posted'],
      status: 'active',
      partnerId: null,
      sourceId: null,
    });
    // the secret is shown once: never in a read, and stored encrypted
    const read = (await t.http.get(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200)).body;
    expect(JSON.stringify(read)).not.toContain(hook.secret);
    const stored = await t.prisma.webhook.findUniqueOrThrow({ where: { id: hook.id } });
    expect(stored.secret.startsWith('enc1:')).toBe(true);
    expect(stored.secret).not.toContain(hook.secret.slice(6, 20));

    await earn([{ externalId: 'p-1', residentId: 'anna' }]);
    const [got] = await waitFor(async () => receiver.at('/posted').length === 1 && receiver.at('/posted'), 20_000, 'the delivery');
    expect(verify(hook.secret, got)).toMatchObject({ type: 'earn_event.posted' });
    expect(() => new Verifier(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(got.body, got.headers)).toThrow();
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(got.json).toEqual({
      type: 'earn_event.posted',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: expect.objectContaining({
        externalId: 'p-1',
        sourceId: 'votes',
        residentId: 'anna',
        status: 'posted',
        points: '20',
        type: 'vote.cast',
        ruleId: 'vote',
      }),
    });
    expect(got.json.data.transactionId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(async () => (await deliveriesOf(hook.id))[0]?.status === 'delivered', 10_000, 'delivered status');
    const [delivery] = await deliveriesOf(hook.id);
    expect(delivery).toMatchObject({
      eventType: 'earn_event.posted',
      status: 'delivered',
      attempts: 1,
      lastStatus: 200,
      lastResponse: 'ok',
      eventId: got.headers['webhook-id'],
    });
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('nothing is written for a change that rolled back, and nothing is delivered for it', async () => {
    const hook = await register({ url: receiver.url('/rollback'), events: ['earn_event.revoked'] });
    await earn([{ externalId: 'rb-1', residentId: 'rolf' }]);
    await waitFor(async () => (await t.prisma.earnEvent.findFirst({ where: { externalId: 'rb-1', status: 'posted' } })) ?? undefined);
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query(`UPDATE earn_events SET status = 'revoked' WHERE external_id = 'rb-1'`);
      // the event is written (staged) in the same transaction as the change ...
      expect(
        (
          await db.query(
            `SELECT count(*)::int AS n FROM webhook_outbox o, unnest(o.earn) AS e WHERE e.external_id = 'rb-1' AND e.status = 'revoked'`,
          )
        ).rows[0].n,
      ).toBe(1);
      await db.query('ROLLBACK');
    } finally {
      await db.end();
    }
    // ... and goes with it
    await t.app.get(WebhookDispatcher).dispatch();
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.prisma.webhookEvent.count({ where: { data: { path: ['externalId'], equals: 'rb-1' } } })).toBe(0);
    expect(receiver.at('/rollback')).toEqual([]);
    // the same change committed through the API is delivered
    await t.http.post('/v1/earn-events/rb-1/revoke').set(votesKey).send({}).expect(200);
    await waitFor(async () => receiver.at('/rollback').length === 1, 20_000, 'the revocation');
    expect(receiver.at('/rollback')[0].json).toMatchObject({ type: 'earn_event.revoked', data: { externalId: 'rb-1', status: 'revoked' } });
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('a staged event goes to the webhooks created before it that are still active when it is expanded', async () => {
    const before = await register({ url: receiver.url('/staged-before'), events: ['earn_event.posted'] });
    const ended = await register({ url: receiver.url('/staged-ended'), events: ['earn_event.posted'] });
    const stagedRows = async () =>
      (
        await t.prisma.$queryRawUnsafe<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM webhook_outbox o, unnest(o.earn) AS e WHERE e.external_id = 'staged-1'`,
        )
      )[0].n;
    // a transaction that wrote the outbox and stays open holds back the expansion of every row
    // staged after it (their positions may not be final while it runs)
    const holder = new Client({ connectionString: t.databaseUrl });
    await holder.connect();
    let after: { id: string };
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock_shared(1717, 3)');
      await earn([{ externalId: 'staged-1', residentId: 'stella' }]);
      await waitFor(async () => (await stagedRows()) === 1, 20_000, 'the posted event staged');
      after = await register({ url: receiver.url('/staged-after'), events: ['earn_event.posted'] });
      await t.http.delete(`/v1/admin/webhooks/${ended.id}`).set(t.admin).expect(200);
      await new Promise((r) => setTimeout(r, 300));
      // still staged: nothing listed, nothing sent
      expect(await stagedRows()).toBe(1);
      expect(await deliveriesOf(before.id)).toEqual([]);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    await waitFor(async () => receiver.at('/staged-before').length === 1, 20_000, 'the event expanded and sent');
    expect(receiver.at('/staged-before')[0].json).toMatchObject({ type: 'earn_event.posted', data: { externalId: 'staged-1' } });
    expect(await stagedRows()).toBe(0);
    await t.app.get(WebhookDispatcher).dispatch();
    await new Promise((r) => setTimeout(r, 300));
    // created after the event was published, or ended before it was expanded: nothing
    expect(receiver.at('/staged-after')).toEqual([]);
    expect(receiver.at('/staged-ended')).toEqual([]);
    expect(await deliveriesOf(after.id)).toEqual([]);
    expect(await t.prisma.webhookDelivery.count({ where: { webhookId: ended.id } })).toBe(0);
    for (const id of [before.id, after.id]) await t.http.delete(`/v1/admin/webhooks/${id}`).set(t.admin).expect(200);
  });

  it('a failing receiver is retried with backoff until it answers, and the deliveries list says so', async () => {
    let calls = 0;
    receiver.answer = (r) => (r.path === '/flaky' && ++calls <= 2 ? { status: 503, body: 'x'.repeat(5000) } : { status: 200, body: 'ok' });
    const hook = await register({ url: receiver.url('/flaky'), events: ['earn_event.posted', 'earn_event.rejected'] });
    await earn([
      { externalId: 'f-1', residentId: 'fred' },
      { externalId: 'f-2', residentId: 'fred', type: 'nothing.here' },
    ]);
    await waitFor(
      async () => (await deliveriesOf(hook.id)).filter((d: any) => d.status === 'delivered').length === 2,
      20_000,
      'both delivered',
    );
    const got = receiver.at('/flaky');
    // one resident: the second event waits for the first, however often the first fails
    expect(got.map((r) => r.json.type)).toEqual(['earn_event.rejected', 'earn_event.rejected', 'earn_event.rejected', 'earn_event.posted']);
    const ids = got.map((r) => r.headers['webhook-id']);
    expect(new Set(ids.slice(0, 3)).size).toBe(1); // the same message, the same id, on every attempt
    const deliveries = await deliveriesOf(hook.id);
    const first = deliveries.find((d: any) => d.eventType === 'earn_event.rejected');
    expect(first).toMatchObject({ attempts: 3, status: 'delivered', lastStatus: 200 });
    // attempts were spaced by the backoff (base 200 ms: 100–200 ms, then 200–400 ms)
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(90);
    expect(got[2].at - got[1].at).toBeGreaterThanOrEqual(190);
    receiver.answer = () => ({ status: 200, body: 'ok' });
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('a receiver that never answers times out per attempt and does not delay another webhook', async () => {
    receiver.answer = (r) => (r.path === '/slow' ? 'hang' : { status: 200, body: 'ok' });
    const slow = await register({ url: receiver.url('/slow'), events: ['earn_event.posted'] });
    const fast = await register({ url: receiver.url('/fast'), events: ['earn_event.posted'] });
    const started = Date.now();
    await earn(Array.from({ length: 30 }, (_, i) => ({ externalId: `s-${i}`, residentId: `sam${i}` })));
    await waitFor(async () => receiver.at('/fast').length >= 30, 20_000, 'the fast receiver');
    // while the slow one still had its first attempts hanging (timeout 1 s)
    expect(Date.now() - started).toBeLessThan(15_000);
    await waitFor(async () => (await deliveriesOf(slow.id)).some((d: any) => d.lastError), 10_000, 'a timed-out attempt');
    const timedOut = (await deliveriesOf(slow.id)).find((d: any) => d.lastError);
    expect(timedOut).toMatchObject({ status: 'pending', lastStatus: null, lastError: expect.stringMatching(/no answer within 1000 ms/) });
    expect(timedOut.attempts).toBeGreaterThanOrEqual(1);
    receiver.answer = () => ({ status: 200, body: 'ok' });
    await t.http.delete(`/v1/admin/webhooks/${slow.id}`).set(t.admin).expect(200);
    await t.http.delete(`/v1/admin/webhooks/${fast.id}`).set(t.admin).expect(200);
    // deleting it cancels what it still had to receive
    expect(await t.prisma.webhookDelivery.count({ where: { webhookId: slow.id, status: 'pending' } })).toBe(0);
    expect(await t.prisma.webhookDelivery.count({ where: { webhookId: slow.id, status: 'cancelled' } })).toBeGreaterThan(0);
  });

  it('an answer of 410 disables the webhook: nothing more is sent to it', async () => {
    receiver.answer = (r) => (r.path === '/gone' ? { status: 410, body: 'gone' } : { status: 200, body: 'ok' });
    const hook = await register({ url: receiver.url('/gone'), events: ['earn_event.posted'] });
    await earn([{ externalId: 'g-1', residentId: 'gus' }]);
    await waitFor(
      async () => (await t.http.get(`/v1/admin/webhooks/${hook.id}`).set(t.admin)).body.status === 'disabled',
      20_000,
      'disabled',
    );
    expect((await t.http.get(`/v1/admin/webhooks/${hook.id}`).set(t.admin)).body).toMatchObject({
      status: 'disabled',
      disabledReason: expect.stringMatching(/410/),
    });
    expect((await deliveriesOf(hook.id))[0]).toMatchObject({ status: 'failed', lastStatus: 410, attempts: 1 });
    await earn([{ externalId: 'g-2', residentId: 'gus' }]);
    await new Promise((r) => setTimeout(r, 600));
    expect(receiver.at('/gone')).toHaveLength(1);
    expect(await deliveriesOf(hook.id)).toHaveLength(1);
    expectProblem(
      await t.http.post(`/v1/admin/webhooks/${hook.id}/deliveries/${(await deliveriesOf(hook.id))[0].id}/retry`).set(t.admin),
      409,
      'invalid_state',
    );
    receiver.answer = () => ({ status: 200, body: 'ok' });
  });

  it("scopes: a partner's webhook gets only its partner's events, a source's only its source's, and neither a resident's id", async () => {
    const all = ['earn_event.posted', 'redemption.created', 'redemption.cancelled', 'code.redeemed', 'donation.created'];
    const city = await register({ url: receiver.url('/city'), events: all });
    const cafe = await register({ url: receiver.url('/cafe'), events: all, partnerId: 'cafe' });
    const votes = await register({ url: receiver.url('/votes'), events: all, sourceId: 'votes' });
    await earn([{ externalId: 'sc-1', residentId: 'zoe' }]);
    const ideasKey = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'i', role: 'source', sourceId: 'ideas' }).expect(201)
      ).body.apiKey,
    };
    await earn([{ externalId: 'sc-2', residentId: 'zoe', type: 'idea.cast' }], ideasKey);
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ residentId: 'zoe', amount: '500', reason: 'opening' })
      .expect(201);
    const redeem = async (itemId: string) =>
      (await t.http.post('/v1/me/redemptions').set(t.residentAuth('zoe')).set('Idempotency-Key', randomUUID()).send({ itemId }).expect(201))
        .body;
    const cake = await redeem('cake');
    const ticket = await redeem('ticket');
    await t.http.post(`/v1/me/redemptions/${ticket.id}/cancel`).set(t.residentAuth('zoe')).send({}).expect(200);
    await t.http.post(`/v1/partner/codes/${cake.codes[0].code}/redeem`).set(cafeKey).send({}).expect(200);
    await t.http
      .post('/v1/me/donations')
      .set(t.residentAuth('zoe'))
      .set('Idempotency-Key', randomUUID())
      .send({ itemId: 'shelter', amount: '50' })
      .expect(201);

    const types = (path: string) => receiver.at(path).map((r) => `${r.json.type}:${r.json.data.externalId ?? r.json.data.itemId}`);
    await waitFor(async () => receiver.at('/city').length === 7, 20_000, 'the city webhook');
    await waitFor(async () => receiver.at('/cafe').length === 2 && receiver.at('/votes').length === 1, 20_000, 'the scoped webhooks');
    await new Promise((r) => setTimeout(r, 500));
    // one resident: in the order it happened
    expect(types('/city')).toEqual([
      'earn_event.posted:sc-1',
      'earn_event.posted:sc-2',
      'redemption.created:cake',
      'redemption.created:ticket',
      'redemption.cancelled:ticket',
      'code.redeemed:cake',
      'donation.created:shelter',
    ]);
    expect(types('/cafe')).toEqual(['redemption.created:cake', 'code.redeemed:cake']);
    expect(types('/votes')).toEqual(['earn_event.posted:sc-1']);
    for (const r of receiver.at('/city')) expect(r.json.data.residentId).toBe('zoe');
    for (const r of [...receiver.at('/cafe'), ...receiver.at('/votes')]) expect(r.body).not.toContain('zoe');
    expect(receiver.at('/cafe')[1].json.data).toEqual({
      code: cake.codes[0].code,
      itemId: 'cake',
      partnerId: 'cafe',
      redemptionId: cake.id,
      redeemedAt: expect.any(String),
    });
    expect(receiver.at('/city')[6].json.data).toMatchObject({
      id: expect.any(String),
      residentId: 'zoe',
      itemId: 'shelter',
      partnerId: 'fund',
      points: '50',
    });
    expect(receiver.at('/city')[4].json.data).toMatchObject({
      id: ticket.id,
      status: 'cancelled',
      refundTransactionId: expect.any(String),
      pointsSpent: '10',
    });
    for (const hook of [city, cafe, votes]) await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
  });

  it('a rotated secret: both signatures during the overlap, each verifies with its secret', async () => {
    const hook = await register({ url: receiver.url('/rotate'), events: ['earn_event.posted'] });
    const rotated = (await t.http.post(`/v1/admin/webhooks/${hook.id}/rotate-secret`).set(t.admin).send({ overlapHours: 1 }).expect(200))
      .body;
    expect(rotated.secret).not.toBe(hook.secret);
    expect(rotated.previousSecretUntil).toEqual(expect.any(String));
    await earn([{ externalId: 'r-1', residentId: 'rita' }]);
    const [got] = await waitFor(async () => receiver.at('/rotate').length === 1 && receiver.at('/rotate'), 20_000, 'the delivery');
    expect(got.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verify(rotated.secret, got)).toMatchObject({ type: 'earn_event.posted' });
    expect(verify(hook.secret, got)).toMatchObject({ type: 'earn_event.posted' });
    // an overlap of 0: only the new secret signs
    const again = (await t.http.post(`/v1/admin/webhooks/${hook.id}/rotate-secret`).set(t.admin).send({ overlapHours: 0 }).expect(200))
      .body;
    await earn([{ externalId: 'r-2', residentId: 'rita' }]);
    const second = await waitFor(async () => receiver.at('/rotate')[1], 20_000, 'the second delivery');
    expect(second.headers['webhook-signature'].split(' ')).toHaveLength(1);
    expect(verify(again.secret, second)).toMatchObject({ type: 'earn_event.posted' });
    expect(() => verify(rotated.secret, second)).toThrow();

    // a delivery sent again by hand: the same message id, signed anew
    const [delivered] = await deliveriesOf(hook.id);
    const retried = (await t.http.post(`/v1/admin/webhooks/${hook.id}/deliveries/${delivered.id}/retry`).set(t.admin).expect(202)).body;
    expect(retried).toMatchObject({ id: delivered.id, status: 'pending' });
    const third = await waitFor(async () => receiver.at('/rotate')[2], 20_000, 'the retried delivery');
    expect(third.headers['webhook-id']).toBe(delivered.eventId);
    expectProblem(await t.http.post(`/v1/admin/webhooks/${hook.id}/deliveries/${randomUUID()}/retry`).set(t.admin), 404, 'not_found');
    await t.http.delete(`/v1/admin/webhooks/${hook.id}`).set(t.admin).expect(200);
    expectProblem(await t.http.get(`/v1/admin/webhooks/${hook.id}`).set(t.admin), 404, 'not_found');
  });

  it('refuses unknown event types, a partner and a source at once, and unknown partners', async () => {
    expectProblem(
      await t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: receiver.url('/x'), events: ['points.earned'] }),
      400,
      'validation_failed',
    );
    expectProblem(
      await t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: receiver.url('/x'), events: [] }),
      400,
      'validation_failed',
    );
    expectProblem(
      await t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: receiver.url('/x'), events: ['code.redeemed'], partnerId: 'cafe', sourceId: 'votes' }),
      400,
      'validation_failed',
    );
    expectProblem(
      await t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: receiver.url('/x'), events: ['code.redeemed'], partnerId: 'nobody' }),
      404,
      'not_found',
    );
    // the types of features not built yet may be subscribed to already
    const later = await register({
      url: receiver.url('/later'),
      events: ['points.expiring', 'points.expired', 'award.completed', 'reconciliation.failed'],
    });
    expect(later.events).toHaveLength(4);
    await t.http.delete(`/v1/admin/webhooks/${later.id}`).set(t.admin).expect(200);
  });

  it('a reconciliation run that fails is told to unscoped webhooks, with the checks that failed', async () => {
    const hook = await register({ url: receiver.url('/recon'), events: ['reconciliation.failed'] });
    const scoped = await register({ url: receiver.url('/recon-cafe'), events: ['reconciliation.failed'], partnerId: 'cafe' });
    const id = randomUUID();
    await t.prisma.reconciliation.create({ data: { id, status: 'running', trigger: 'manual' } });
    await t.prisma.reconciliation.update({
      where: { id },
      data: {
        status: 'failed',
        finishedAt: new Date(),
        checks: [
          { name: 'a', passed: true, detail: 'fine' },
          { name: 'b', passed: false, detail: 'off by 1' },
        ],
      },
    });
    const [got] = await waitFor(async () => receiver.at('/recon').length === 1 && receiver.at('/recon'), 20_000, 'the delivery');
    expect(got.json.data).toEqual({
      id,
      trigger: 'manual',
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      failedChecks: [{ name: 'b', detail: 'off by 1' }],
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.at('/recon-cafe')).toEqual([]);
    for (const h of [hook, scoped]) await t.http.delete(`/v1/admin/webhooks/${h.id}`).set(t.admin).expect(200);
  });

  it("the OpenAPI document describes every event's request and data", async () => {
    const doc = (await t.http.get('/docs/openapi.json').expect(200)).body;
    expect(Object.keys(doc['x-webhooks']).sort()).toEqual([
      'award.completed',
      'code.redeemed',
      'donation.created',
      'earn_event.posted',
      'earn_event.rejected',
      'earn_event.revoked',
      'points.expired',
      'points.expiring',
      'reconciliation.failed',
      'redemption.cancelled',
      'redemption.created',
    ]);
    const schema = doc['x-webhooks']['earn_event.posted'].post.requestBody.content['application/json'].schema;
    expect(schema.properties.data.$ref).toBe('#/components/schemas/EarnEventWebhookData');
    expect(Object.keys(doc.components.schemas.EarnEventWebhookData.properties)).toEqual(
      expect.arrayContaining(['externalId', 'residentId', 'points', 'transactionId']),
    );
    expect(doc.paths['/v1/admin/webhooks/{id}/deliveries/{deliveryId}/retry'].post['x-roles']).toEqual(['admin']);
  });

  it('metrics count deliveries and tell the outbox age', async () => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    expect(text).toMatch(/civic_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
    expect(text).toMatch(/civic_webhook_deliveries_total\{outcome="gone"\} 1/);
    expect(text).toMatch(/civic_webhook_outbox_age_seconds \d/);
    expect(text).toMatch(/civic_webhook_outbox_pending \d/);
  });
});
