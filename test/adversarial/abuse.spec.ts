import { createHash, randomUUID } from 'node:crypto';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { expectProblem, JWT_SECRET, startTestApp, TestApp } from '../support/app';
import { Answer, baseUrlOf, idempotencyKey, INTERNALS, send } from './support';

/**
 * Abuse: guessing codes, hunting for keys in the database and the logs, reading internals out
 * of error answers, and the security headers every answer must carry.
 */
describe('abuse', () => {
  let t: TestApp;
  let base: string;
  const logged: string[] = [];
  const restore: (() => void)[] = [];
  const keys: Record<string, string> = {};
  let bellaCode = '';
  let bellaRedemption = '';

  beforeAll(async () => {
    // everything the service writes to stdout and stderr, at its most talkative level
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = (chunk: unknown, ...rest: unknown[]) => {
        logged.push(String(chunk));
        return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      };
      restore.push(() => (stream.write = original));
    }
    t = await startTestApp({ LOG_LEVEL: 'trace', PARTNER_CODE_RATE_PER_MINUTE: '20', API_KEY_CACHE_SECONDS: '1' });
    base = await baseUrlOf(t);
    for (const [id, kind] of [
      ['cafe', 'cafe'],
      ['museum', 'museum'],
    ]) {
      await t.http.post('/v1/admin/partners').set(t.admin).send({ id, name: id, kind }).expect(201);
      keys[id] = (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: id, role: 'partner', partnerId: id }).expect(201)
      ).body.apiKey;
    }
    keys.auditor = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'audit', role: 'auditor' }).expect(201)
    ).body.apiKey;
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'cake',
        kind: 'PROMO_CODE',
        title: 'Cake',
        partnerId: 'cafe',
        pricePoints: '10',
        codeSource: 'GENERATED',
        stock: 2,
        perResidentLimit: 1,
      })
      .expect(201);
    for (const r of ['anna-a1', 'bella-b2']) {
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set(idempotencyKey())
        .send({ residentId: r, amount: '15', reason: 'opening' })
        .expect(201);
    }
    const bella = await t.http
      .post('/v1/me/redemptions')
      .set(t.residentAuth('bella-b2'))
      .set(idempotencyKey())
      .send({ itemId: 'cake' })
      .expect(201);
    bellaCode = bella.body.codes[0].code;
    bellaRedemption = bella.body.id;
  });

  afterAll(async () => {
    restore.forEach((r) => r());
    await t.close();
  });

  it('code guessing at the till is throttled per key, and a real code is no oracle once the limit is reached', async () => {
    const guesses = Array.from({ length: 120 }, (_, i) => (i === 100 ? bellaCode : `GUESS${String(i).padStart(8, '0')}`));
    const answers = await Promise.all(
      guesses.map((code, i) =>
        send(base, {
          method: i % 2 ? 'POST' : 'GET',
          path: `/v1/partner/codes/${code}${i % 2 ? '/redeem' : ''}`,
          headers: { 'X-API-Key': keys.cafe },
        }),
      ),
    );
    const through = answers.filter((a) => a.status !== 429);
    expect(through.length).toBeLessThanOrEqual(20);
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.contentType).toMatch(/^application\/problem\+json/);
      expect((a.body as { code: string }).code).toBe('rate_limited');
    }
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(100);

    console.log(`abuse: ${answers.length} concurrent code guesses from one key, ${through.length} got through the limit of 20`);
    // another partner's key has its own budget, and another partner's real code looks exactly like a made-up one
    const foreign = await send(base, { method: 'GET', path: `/v1/partner/codes/${bellaCode}`, headers: { 'X-API-Key': keys.museum } });
    const unknown = await send(base, { method: 'GET', path: '/v1/partner/codes/NOSUCHCODE234', headers: { 'X-API-Key': keys.museum } });
    expect([foreign.status, unknown.status]).toEqual([404, 404]);
    const shape = (a: Answer, code: string) => ({
      ...(a.body as Record<string, unknown>),
      instance: undefined,
      detail: String((a.body as { detail: string }).detail).replace(code, 'C'),
    });
    expect(shape(foreign, bellaCode)).toEqual(shape(unknown, 'NOSUCHCODE234'));
  });

  it('API keys are stored only as hashes: no table holds a key, or a token, in the clear', async () => {
    const created = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'fresh', role: 'admin' }).expect(201)).body;
    await t.http.get('/v1/admin/sources').set('X-API-Key', created.apiKey).expect(200);
    const hash = createHash('sha256').update(created.apiKey).digest('hex');
    const row = await t.prisma.$queryRawUnsafe<{ key_hash: string }[]>(`SELECT key_hash FROM api_clients WHERE id = $1::uuid`, created.id);
    expect(row[0].key_hash).toBe(hash);
    const tables = await t.prisma.$queryRawUnsafe<{ name: string }[]>(
      `SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    const secrets = [
      created.apiKey,
      keys.cafe,
      keys.museum,
      keys.auditor,
      t.admin['X-API-Key'],
      t.residentAuth('anna-a1').Authorization.slice(7, 60),
    ];
    const found: string[] = [];
    for (const { name } of tables) {
      for (const secret of secrets) {
        const hits = await t.prisma.$queryRawUnsafe<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM ${name} x WHERE strpos(x::text, $1) > 0`,
          secret,
        );
        if (hits[0].n > 0) found.push(`${name} holds ${secret.slice(0, 8)}…`);
      }
    }
    expect(found).toEqual([]);
    expect(tables.length).toBeGreaterThan(10);

    console.log(`abuse: ${tables.length} tables searched for ${secrets.length} keys and tokens in the clear: none found`);
  });

  it('error answers carry no stack trace, SQL, or anyone else’s ids; a database failure is a bare 500', async () => {
    const anna = t.residentAuth('anna-a1');
    const answers: Answer[] = [];
    const call = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      body?: unknown,
      contentType = 'application/json',
    ) => {
      const a = await send(base, {
        method,
        path,
        headers: { ...headers, 'Content-Type': contentType },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      answers.push(a);
      return a;
    };
    await call('GET', '/v1/me/balance', {});
    await call('GET', '/v1/audit/trial-balance', { 'X-API-Key': keys.cafe });
    await call('GET', `/v1/me/redemptions/${bellaRedemption}`, anna);
    await call('POST', `/v1/me/redemptions/${bellaRedemption}/cancel`, anna);
    await call('POST', '/v1/me/redemptions', { ...anna, ...idempotencyKey() }, { itemId: 'cake', quantity: 2 }); // limit
    await call('POST', '/v1/me/redemptions', { ...anna, ...idempotencyKey() }, { itemId: 'cake' }); // ok, last of the stock
    await call('POST', '/v1/me/redemptions', { ...t.residentAuth('carl-c3'), ...idempotencyKey() }, { itemId: 'cake' }); // out of stock
    await call('POST', '/v1/me/donations', { ...anna, ...idempotencyKey() }, { itemId: 'cake', amount: '1000' });
    await call(
      'POST',
      '/v1/admin/adjustments',
      { ...t.admin, ...idempotencyKey() },
      { residentId: 'anna-a1', amount: '-1000', reason: 'too much' },
    );
    await call('POST', '/v1/admin/sources', t.admin, '{"id": "x",');
    await call('POST', '/v1/admin/items/cake/codes', t.admin, '<x/>', 'application/xml');
    await call('POST', '/v1/admin/sources', t.admin, { id: 'big', name: 'x'.repeat(3 * 1024 * 1024) });
    await call('POST', `/v1/partner/codes/${bellaCode}/redeem`, { 'X-API-Key': keys.museum });
    await call('GET', '/v1/ledger/transactions/not-a-uuid', t.admin);
    await call('GET', `/v1/ledger/transactions/${randomUUID()}`, t.admin);
    await call('POST', '/v1/earn-events/x/confirm', { 'X-API-Key': keys.cafe });
    await call('GET', '/v1/nowhere/../../etc/passwd', {});

    // a failure deep in the database: the table a query needs is gone for a moment
    await t.prisma.$executeRawUnsafe('ALTER TABLE sources RENAME TO sources_gone');
    let failure: Answer;
    try {
      failure = await call('GET', '/v1/admin/sources', t.admin);
    } finally {
      await t.prisma.$executeRawUnsafe('ALTER TABLE sources_gone RENAME TO sources');
    }
    expect(failure.status).toBe(500);
    expect(failure.body).toEqual({
      type: 'urn:civic-points-ledger:problem:internal_error',
      title: expect.any(String),
      status: 500,
      detail: 'The request could not be completed',
      code: 'internal_error',
      instance: '/v1/admin/sources',
    });
    // the log has the detail the answer leaves out
    expect(logged.join('')).toMatch(/sources/);

    const statuses = answers.map((a) => a.status).sort();
    expect(new Set(statuses)).toEqual(new Set([201, 400, 401, 403, 404, 409, 413, 415, 500]));
    for (const a of answers.filter((x) => x.status >= 400)) {
      expect(a.contentType).toMatch(/^application\/problem\+json/);
      expect(a.text).not.toMatch(INTERNALS);
      // bella's redemption and code appear only where anna's own request named them
      const body = { ...(a.body as object), instance: undefined };
      expect(JSON.stringify(body)).not.toContain('bella');
      expect(JSON.stringify(body)).not.toContain(bellaCode);
    }
  });

  it('no key and no token is ever written to the log, even when requests with them fail', async () => {
    const revoked = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'gone', role: 'auditor' }).expect(201)).body;
    await t.http.delete(`/v1/admin/api-clients/${revoked.id}`).set(t.admin).expect(200);
    const token = t.residentAuth('anna-a1');
    const expired = `Bearer ${signResidentToken('anna-a1', JWT_SECRET, -10)}`;
    await t.http.get('/v1/audit/trial-balance').set('X-API-Key', revoked.apiKey).expect(401);
    await t.http.get('/v1/audit/trial-balance').set('X-API-Key', keys.auditor).expect(200);
    await t.http.get('/v1/me/balance').set('Authorization', expired).expect(401);
    await t.http.get('/v1/me/balance').set(token).expect(200);
    await t.http.post('/v1/me/redemptions').set(token).set('Idempotency-Key', keys.auditor).send('{"broken').type('json').expect(400);
    // authentication itself fails in the database: the key being checked must not reach the log
    const fresh = (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'new', role: 'auditor' }).expect(201)).body.apiKey;
    await t.prisma.$executeRawUnsafe('ALTER TABLE api_clients RENAME TO api_clients_gone');
    try {
      const res = await t.http.get('/v1/audit/trial-balance').set('X-API-Key', fresh);
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.text).not.toContain(fresh);
    } finally {
      await t.prisma.$executeRawUnsafe('ALTER TABLE api_clients_gone RENAME TO api_clients');
    }
    const log = logged.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [
      revoked.apiKey,
      keys.auditor,
      keys.cafe,
      keys.museum,
      fresh,
      t.admin['X-API-Key'],
      token.Authorization.slice(7),
      expired.slice(7),
    ]) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(secret.slice(0, 24));
    }
  });

  it('every kind of answer carries the security headers and names no framework', async () => {
    const answers = [
      await send(base, { method: 'GET', path: '/health/live' }),
      await send(base, { method: 'GET', path: '/v1/catalogue' }),
      await send(base, { method: 'GET', path: '/v1/me/balance' }),
      await send(base, { method: 'GET', path: '/v1/nowhere' }),
      await send(base, {
        method: 'POST',
        path: '/v1/admin/sources',
        headers: { ...t.admin, 'Content-Type': 'application/json' },
        body: '{',
      }),
      await send(base, { method: 'GET', path: '/docs/openapi.json' }),
    ];
    for (const a of answers) {
      const h = (name: string) => a.headers.get(name);
      expect(h('x-content-type-options')).toBe('nosniff');
      expect(h('x-frame-options')).toBe('SAMEORIGIN');
      expect(h('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(h('content-security-policy')).toMatch(/default-src 'self'/);
      expect(h('referrer-policy')).toBe('no-referrer');
      expect(h('cross-origin-opener-policy')).toBe('same-origin');
      expect(h('x-powered-by')).toBeNull();
      expect(h('server')).toBeNull();
    }
    expectProblem(await t.http.get('/v1/nowhere'), 404, 'not_found');
  });
});
