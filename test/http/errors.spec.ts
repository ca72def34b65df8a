import { expectProblem, startTestApp, TestApp } from '../support/app';

describe('errors are RFC 9457 problem+json and bad input changes nothing', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ BODY_LIMIT: '64kb' });
  });

  afterAll(() => t.close());

  const sourceCount = () => t.prisma.source.count();

  it('an unknown route is a problem+json 404', async () => {
    const res = await t.http.get('/v1/nowhere').set(t.admin);
    expectProblem(res, 404, 'not_found');
    expect(res.body.instance).toBe('/v1/nowhere');
  });

  it('a body that is not JSON is a 400 and creates nothing', async () => {
    const before = await sourceCount();
    const res = await t.http.post('/v1/admin/sources').set(t.admin).set('Content-Type', 'application/json').send('{"id": "x",');
    expectProblem(res, 400, 'validation_failed');
    expect(await sourceCount()).toBe(before);
  });

  it('a body over the limit is a 413 payload_too_large and creates nothing', async () => {
    const before = await sourceCount();
    const res = await t.http
      .post('/v1/admin/sources')
      .set(t.admin)
      .send({ id: 'big', name: 'x'.repeat(70 * 1024) });
    expectProblem(res, 413, 'payload_too_large');
    expect(await sourceCount()).toBe(before);
  });

  it('a small body nested 20,000 deep is a 400 for anyone, and the service goes on', async () => {
    // 40 kB of brackets: once a stack overflow that took the process down, before any key was checked
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    for (const path of ['/v1/admin/sources', '/v1/earn-events']) {
      const res = await t.http.post(path).set('Content-Type', 'application/json').send(deep);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.detail).toMatch(/nested deeper than 32 levels/);
    }
    const nested = (depth: number): unknown => (depth === 0 ? 'x' : { a: nested(depth - 1) });
    expectProblem(
      await t.http
        .post('/v1/admin/sources')
        .set(t.admin)
        .send({ id: 'deep', name: 'x', extra: nested(40) }),
      400,
      'validation_failed',
    );
    await t.http.get('/health/live').expect(200);
    expect(await t.prisma.source.count({ where: { id: 'deep' } })).toBe(0);
  });

  it('unknown fields are refused, with every field error listed', async () => {
    const res = await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'Not A Slug', name: 42, isAdmin: true });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['id', 'isAdmin', 'name']);
    expect(await t.prisma.source.count({ where: { id: 'Not A Slug' } })).toBe(0);
  });

  it.each([
    [{}, 'missing fields'],
    [{ id: 'ok', name: '' }, 'empty name'],
    [{ id: 'ok', name: 'x'.repeat(201) }, 'name too long'],
    [{ id: '-lead', name: 'x' }, 'id starting with a dash'],
    [{ id: 'a'.repeat(65), name: 'x' }, 'id too long'],
    [{ id: ['ok'], name: 'x' }, 'id of the wrong type'],
    [[{ id: 'ok', name: 'x' }], 'an array instead of an object'],
  ])('%j (%s) is a 400 validation_failed and creates nothing', async (body, _why) => {
    const before = await sourceCount();
    expectProblem(await t.http.post('/v1/admin/sources').set(t.admin).send(body), 400, 'validation_failed');
    expect(await sourceCount()).toBe(before);
  });

  it('a duplicate is a 409 already_exists and leaves the first one as it was', async () => {
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    const res = await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Other' });
    expectProblem(res, 409, 'already_exists');
    expect(await t.prisma.source.findUnique({ where: { id: 'votes' } })).toMatchObject({ name: 'Votes' });
  });

  it('bad list parameters are a 400', async () => {
    for (const query of ['limit=0', 'limit=501', 'limit=abc', 'cursor=%00%01', 'cursor=bm90LWpzb24']) {
      expectProblem(await t.http.get(`/v1/admin/sources?${query}`).set(t.admin), 400, 'validation_failed');
    }
  });

  it('answers carry security headers and do not name the framework', async () => {
    const res = await t.http.get('/health/live');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});
