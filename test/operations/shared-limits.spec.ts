import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/app.setup';
import { startTestApp, TestApp, testConfig } from '../support/app';
import { waitFor } from '../support/wait';

/**
 * Two processes of the service on one database and one Redis: a partner key's rate limit is one
 * budget across both, and a key revoked through one is refused by the other within a second,
 * although the other had it in its cache (API_KEY_CACHE_SECONDS is 60 here).
 */
describe('limits and revocations across processes', () => {
  const LIMIT = 10;
  let a: TestApp;
  let b: NestExpressApplication;
  let bHttp: TestAgent;
  let partnerKey: string;

  beforeAll(async () => {
    const env = { PARTNER_CODE_RATE_PER_MINUTE: String(LIMIT), LOGIN_RATE_PER_MINUTE: String(LIMIT), API_KEY_CACHE_SECONDS: '60' };
    a = await startTestApp(env);
    // the same deployment: the same database, Redis and QUEUE_PREFIX
    b = await createApp(testConfig({ ...env, DATABASE_URL: a.databaseUrl, QUEUE_PREFIX: a.config.queuePrefix }));
    await b.listen(0, '127.0.0.1');
    bHttp = request((await b.getUrl()).replace('[::1]', '127.0.0.1'));
    await a.http.post('/v1/admin/partners').set(a.admin).send({ id: 'shared-museum', name: 'Museum', kind: 'museum' }).expect(201);
    const created = await a.http
      .post('/v1/admin/api-clients')
      .set(a.admin)
      .send({ name: 'till', role: 'partner', partnerId: 'shared-museum' })
      .expect(201);
    partnerKey = created.body.apiKey as string;
  });

  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('a partner key has one budget in total, however its requests are spread over the processes', async () => {
    const look = (http: TestAgent, i: number) => http.get(`/v1/partner/codes/NOSUCHCODE${i}`).set('X-API-Key', partnerKey);
    const answers = await Promise.all(Array.from({ length: 2 * LIMIT }, (_, i) => look(i % 2 ? a.http : bHttp, i)));
    const statuses = answers.map((r) => r.status);
    // each process alone would have let all of them through (10 each): together, the limit holds
    expect(statuses.filter((s) => s === 404)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT);
  });

  it('the pages’ sign-in limit per address is one budget across the processes too', async () => {
    // a sign-in post without its form token: counted by the limit first, then refused (403) by the CSRF check
    const post = (http: TestAgent) => http.post('/app/login').type('form').send({ apiKey: 'not-a-key' });
    const answers = await Promise.all(Array.from({ length: 2 * LIMIT }, (_, i) => post(i % 2 ? a.http : bHttp)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 403)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT);
  });

  it('a key revoked through one process is refused by the other within a second', async () => {
    const adminKey = (await a.http.post('/v1/admin/api-clients').set(a.admin).send({ name: 'clerk', role: 'admin' }).expect(201)).body;
    // the other process has the key in its cache
    await bHttp.get('/v1/admin/sources').set('X-API-Key', adminKey.apiKey).expect(200);
    await a.http.delete(`/v1/admin/api-clients/${adminKey.id}`).set(a.admin).expect(200);
    const revokedAt = Date.now();
    await waitFor(
      async () => (await bHttp.get('/v1/admin/sources').set('X-API-Key', adminKey.apiKey)).status === 401,
      5_000,
      'revoked key refused',
    );
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });
});
