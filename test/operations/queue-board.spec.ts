import { expectProblem, startTestApp, TestApp } from '../support/app';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('Bull Board at /admin/queues (with Redis)', () => {
  let t: TestApp;
  let auditorKey: string;
  let createdAdminKey: string;

  beforeAll(async () => {
    t = await startTestApp();
    auditorKey = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'books', role: 'auditor' }).expect(201)).body.apiKey;
    createdAdminKey = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'ops', role: 'admin' }).expect(201)).body
      .apiKey;
  });

  afterAll(() => t.close());

  it('refuses a visitor without credentials, asking the browser for them', async () => {
    const res = await t.http.get('/admin/queues');
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expectProblem(await t.http.get('/admin/queues/api/queues'), 401, 'unauthorized');
  });

  it('refuses wrong credentials, and keys that are not admin keys', async () => {
    expectProblem(await t.http.get('/admin/queues').set('X-API-Key', 'not-a-key-at-all-0123456789'), 401, 'unauthorized');
    expectProblem(await t.http.get('/admin/queues').set('Authorization', basic('admin', 'wrong-password-0123456789')), 401, 'unauthorized');
    expectProblem(await t.http.get('/admin/queues').set('Authorization', 'Bearer something'), 401, 'unauthorized');
    expectProblem(await t.http.get('/admin/queues').set('X-API-Key', auditorKey), 403, 'forbidden');
  });

  it('opens with an admin key in X-API-Key, and lists the earn queue', async () => {
    const page = await t.http.get('/admin/queues').set(t.admin).expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<base href="/admin/queues/"');
    const api = await t.http.get('/admin/queues/api/queues').set('X-API-Key', createdAdminKey).expect(200);
    expect(api.body.queues.map((q: { name: string }) => q.name)).toContain('earn');
  });

  it('opens with HTTP Basic and the admin key as password, as a browser sends it', async () => {
    await t.http.get('/admin/queues').set('Authorization', basic('admin', t.admin['X-API-Key'])).expect(200);
    await t.http.get('/admin/queues/api/queues').set('Authorization', basic('', createdAdminKey)).expect(200);
  });
});

describe('/admin/queues without Redis', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ REDIS_URL: '' });
  });

  afterAll(() => t.close());

  it('says there is no queue to show', async () => {
    const res = await t.http.get('/admin/queues').set(t.admin);
    expectProblem(res, 404, 'not_found');
    expect(res.body.detail).toMatch(/without Redis/);
  });
});
