import { startTestApp, TestApp, expectProblem } from '../support/app';
import { TestReceiver } from '../support/receiver';
import { waitFor } from '../support/wait';

/**
 * URL safety with the default WEBHOOK_ALLOW_PRIVATE=false: http and https only; loopback,
 * private, link-local and other non-public addresses refused at registration, and again at
 * delivery after DNS resolution (a row that names one is never called). No redirects followed.
 */
describe('webhook URL safety', () => {
  let t: TestApp;
  let receiver: TestReceiver;

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    t = await startTestApp({
      WEBHOOK_DISPATCH_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '60000',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_LEASE_SECONDS: '3',
    });
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
  });

  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it.each([
    ['loopback', 'http://127.0.0.1:8080/hook'],
    ['a name that resolves to loopback', 'http://localhost/hook'],
    ['IPv6 loopback', 'http://[::1]/hook'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['private 10/8', 'https://10.1.2.3/hook'],
    ['private 192.168/16', 'https://192.168.0.10/hook'],
    ['private 172.16/12', 'https://172.20.0.1/hook'],
    ['link-local (cloud metadata)', 'http://169.254.169.254/latest/meta-data'],
    ['IPv6 unique local', 'http://[fd00::1]/hook'],
    ['IPv6 link-local', 'http://[fe80::1]/hook'],
    ['carrier-grade NAT', 'http://100.64.0.1/hook'],
    ['unspecified', 'http://0.0.0.0/hook'],
    ['another scheme', 'ftp://93.184.215.14/hook'],
    ['a file URL', 'file:///etc/passwd'],
    ['credentials in the URL', 'https://user:pass@93.184.215.14/hook'],
    ['not a URL', 'hook'],
  ])('refuses %s at registration', async (_, url) => {
    const res = await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url, events: ['earn_event.posted'] });
    expectProblem(res, 400, 'validation_failed');
    expect(await t.prisma.webhook.count({ where: { url } })).toBe(0);
  });

  it('accepts a public address', async () => {
    const res = await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: 'https://93.184.215.14/hook', events: ['reconciliation.failed'] })
      .expect(201);
    await t.http.delete(`/v1/admin/webhooks/${res.body.id}`).set(t.admin).expect(200);
  });

  it('checks again at delivery: a webhook whose address is loopback by then is never called', async () => {
    // as if its name had resolved to a public address at registration and to loopback since
    const hook = await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: 'https://93.184.215.14/hook', events: ['earn_event.posted'] })
      .expect(201);
    await t.prisma.webhook.update({ where: { id: hook.body.id }, data: { url: receiver.url('/private') } });
    const key = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'v', role: 'source', sourceId: 'votes' }).expect(201))
      .body.apiKey;
    await t.http
      .post('/v1/earn-events')
      .set('X-API-Key', key)
      .send({
        events: [{ externalId: 'u-1', type: 'vote.cast', residentId: 'ulla', occurredAt: new Date(Date.now() - 60_000).toISOString() }],
      })
      .expect(202);
    const [delivery] = await waitFor(
      async () => {
        const items = (await t.http.get(`/v1/admin/webhooks/${hook.body.id}/deliveries`).set(t.admin).expect(200)).body.items;
        return items[0]?.attempts > 0 && items;
      },
      20_000,
      'an attempt',
    );
    expect(delivery).toMatchObject({
      status: 'pending',
      lastStatus: null,
      lastError: expect.stringMatching(/127\.0\.0\.1.*private, loopback or reserved/),
    });
    expect(receiver.received).toEqual([]);
    expect((await t.http.get('/metrics').expect(200)).text).toMatch(/civic_webhook_deliveries_total\{outcome="unsafe_url"\} 1/);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const other = await startTestApp({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_DISPATCH_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '60000',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_LEASE_SECONDS: '3',
    });
    try {
      // a redirect a following client would take (Location names the receiver's own /target)
      receiver.answer = (r) =>
        r.path === '/moved'
          ? { status: 307, body: 'see /target', headers: { location: receiver.url('/target') } }
          : { status: 200, body: 'ok' };
      const hook = (
        await other.http
          .post('/v1/admin/webhooks')
          .set(other.admin)
          .send({ url: receiver.url('/moved'), events: ['reconciliation.failed'] })
          .expect(201)
      ).body;
      await other.prisma.reconciliation.create({
        data: { id: '00000000-0000-4000-8000-000000000001', status: 'failed', trigger: 'manual' },
      });
      const [delivery] = await waitFor(
        async () => {
          const items = (await other.http.get(`/v1/admin/webhooks/${hook.id}/deliveries`).set(other.admin).expect(200)).body.items;
          return items[0]?.attempts > 0 && items;
        },
        20_000,
        'an attempt',
      );
      expect(delivery).toMatchObject({ status: 'pending', lastStatus: 307, lastResponse: 'see /target' });
      expect(receiver.at('/target')).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
