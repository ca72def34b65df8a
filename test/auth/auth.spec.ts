import { createHmac } from 'node:crypto';
import { generateApiKey, hashApiKey } from '../../src/auth/domain/api-key';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { ApiClientsRepository } from '../../src/auth/api-clients.repository';
import { expectProblem, JWT_SECRET, startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

describe('authentication and roles', () => {
  let t: TestApp;
  const keys: Record<string, string> = {};

  const createKey = async (body: object) => {
    const res = await t.http.post('/v1/admin/api-clients').set(t.admin).send(body).expect(201);
    return res.body as { id: string; apiKey: string; keyPrefix: string };
  };

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    keys.admin = (await createKey({ name: 'an admin', role: 'admin' })).apiKey;
    keys.auditor = (await createKey({ name: 'an auditor', role: 'auditor' })).apiKey;
    keys.source = (await createKey({ name: 'votes', role: 'source', sourceId: 'votes' })).apiKey;
    keys.partner = (await createKey({ name: 'cafe', role: 'partner', partnerId: 'cafe' })).apiKey;
  });

  afterAll(() => t.close());

  describe('API keys', () => {
    it('no credentials: 401', async () => {
      expectProblem(await t.http.get('/v1/admin/sources'), 401, 'unauthorized');
    });

    it.each([
      ['an empty key', ''],
      ['a malformed key', 'not a key'],
      ['an unknown key of the right shape', generateApiKey()],
      ['an absurdly long key', 'k'.repeat(10_000)],
    ])('%s: 401', async (_what, key) => {
      expectProblem(await t.http.get('/v1/admin/sources').set('X-API-Key', key), 401, 'unauthorized');
    });

    it('the bootstrap ADMIN_API_KEY and a created admin key both work', async () => {
      await t.http.get('/v1/admin/sources').set(t.admin).expect(200);
      await t.http.get('/v1/admin/sources').set('X-API-Key', keys.admin).expect(200);
    });

    it.each(['auditor', 'source', 'partner'])('a %s key on admin endpoints: 403, and nothing is created', async (role) => {
      expectProblem(await t.http.get('/v1/admin/sources').set('X-API-Key', keys[role]), 403, 'forbidden');
      expectProblem(
        await t.http
          .post('/v1/admin/sources')
          .set('X-API-Key', keys[role])
          .send({ id: `by-${role}`, name: 'x' }),
        403,
        'forbidden',
      );
      expectProblem(
        await t.http.post('/v1/admin/api-clients').set('X-API-Key', keys[role]).send({ name: 'x', role: 'admin' }),
        403,
        'forbidden',
      );
      expect(await t.prisma.source.count({ where: { id: `by-${role}` } })).toBe(0);
    });

    it('a revoked key stops working at once, and revoking is recorded', async () => {
      const { id, apiKey } = await createKey({ name: 'short-lived', role: 'admin' });
      await t.http.get('/v1/admin/sources').set('X-API-Key', apiKey).expect(200); // now cached
      const revoked = await t.http.delete(`/v1/admin/api-clients/${id}`).set(t.admin).expect(200);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      expectProblem(await t.http.get('/v1/admin/sources').set('X-API-Key', apiKey), 401, 'unauthorized');
      expect(await t.prisma.adminAction.count({ where: { action: 'api-client.revoked', subject: `api-client:${id}` } })).toBe(1);
      // revoking again changes nothing and records nothing more
      await t.http.delete(`/v1/admin/api-clients/${id}`).set(t.admin).expect(200);
      expect(await t.prisma.adminAction.count({ where: { action: 'api-client.revoked', subject: `api-client:${id}` } })).toBe(1);
    });

    it('a key read just before its revoke committed is not remembered past the revoke', async () => {
      const { id, apiKey } = await createKey({ name: 'overlapping', role: 'admin' });
      const repository = t.app.get(ApiClientsRepository);
      const find = repository.findByHash.bind(repository);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      // the look-up reads the row while it is still valid, then waits until the revoke is done
      const spy = jest.spyOn(repository, 'findByHash').mockImplementationOnce(async (hash) => {
        const row = await find(hash);
        await held;
        return row;
      });
      const overlapping = t.http
        .get('/v1/admin/sources')
        .set('X-API-Key', apiKey)
        .then((r) => r);
      await waitFor(async () => spy.mock.calls.length > 0, 5000, 'the look-up to start');
      await t.http.delete(`/v1/admin/api-clients/${id}`).set(t.admin).expect(200);
      release();
      expect((await overlapping).status).toBe(200);
      spy.mockRestore();
      expectProblem(await t.http.get('/v1/admin/sources').set('X-API-Key', apiKey), 401, 'unauthorized');
    });

    it('keys are stored only as hashes and never shown again', async () => {
      const { id, apiKey, keyPrefix } = await createKey({ name: 'hashed', role: 'auditor' });
      expect(apiKey.startsWith(keyPrefix)).toBe(true);
      const row = await t.prisma.apiClient.findUniqueOrThrow({ where: { id } });
      expect(row.keyHash).toBe(hashApiKey(apiKey));
      const dump = JSON.stringify(await t.prisma.$queryRawUnsafe('SELECT * FROM api_clients'));
      const log = JSON.stringify(await t.prisma.$queryRawUnsafe('SELECT actor, action, subject, details::text FROM admin_actions'));
      expect(dump).not.toContain(apiKey);
      expect(log).not.toContain(apiKey);
      const listed = await t.http.get('/v1/admin/api-clients?limit=500').set(t.admin).expect(200);
      expect(JSON.stringify(listed.body)).not.toContain(apiKey);
      expect(listed.body.items.find((c: { id: string }) => c.id === id)).toMatchObject({ keyPrefix, role: 'auditor' });
    });

    it('a key is bound as its role says, to a source or partner that exists', async () => {
      for (const body of [
        { name: 'x', role: 'source' },
        { name: 'x', role: 'partner' },
        { name: 'x', role: 'admin', sourceId: 'votes' },
        { name: 'x', role: 'auditor', partnerId: 'cafe' },
        { name: 'x', role: 'source', sourceId: 'votes', partnerId: 'cafe' },
        { name: 'x', role: 'root' },
      ]) {
        expectProblem(await t.http.post('/v1/admin/api-clients').set(t.admin).send(body), 400, 'validation_failed');
      }
      expectProblem(
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'x', role: 'source', sourceId: 'nope' }),
        404,
        'not_found',
      );
      expectProblem(
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'x', role: 'partner', partnerId: 'nope' }),
        404,
        'not_found',
      );
    });

    it('revoking an unknown or malformed id: 404 and 400', async () => {
      expectProblem(await t.http.delete('/v1/admin/api-clients/00000000-0000-4000-8000-000000000000').set(t.admin), 404, 'not_found');
      expectProblem(await t.http.delete('/v1/admin/api-clients/not-a-uuid').set(t.admin), 400, 'validation_failed');
    });
  });

  describe('resident tokens', () => {
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = () => Math.floor(Date.now() / 1000);

    it('a valid token reaches the resident endpoints as that resident', async () => {
      const res = await t.http.get('/v1/me').set(t.residentAuth('anna')).expect(200);
      expect(res.body).toEqual({ residentId: 'anna' });
    });

    it.each([
      ['expired', () => signResidentToken('anna', JWT_SECRET, -60)],
      ['unsigned (alg none)', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'anna', exp: now() + 600 })}.`],
      ['signed with another secret', () => signResidentToken('anna', 'z'.repeat(40))],
      [
        'without exp',
        () => {
          const head = b64({ alg: 'HS256', typ: 'JWT' });
          const body = b64({ sub: 'anna' });
          return `${head}.${body}.${createHmac('sha256', JWT_SECRET).update(`${head}.${body}`).digest('base64url')}`;
        },
      ],
      ['garbage', () => 'abc.def'],
    ])('a token %s: 401', async (_what, token) => {
      expectProblem(await t.http.get('/v1/me').set('Authorization', `Bearer ${token()}`), 401, 'unauthorized');
    });

    it('an Authorization header that is not a bearer token: 401', async () => {
      expectProblem(await t.http.get('/v1/me').set('Authorization', 'Basic YWRtaW46YWRtaW4='), 401, 'unauthorized');
    });

    it('a resident token on admin endpoints: 403', async () => {
      expectProblem(await t.http.get('/v1/admin/sources').set(t.residentAuth('anna')), 403, 'forbidden');
      expectProblem(await t.http.post('/v1/admin/sources').set(t.residentAuth('anna')).send({ id: 'r', name: 'r' }), 403, 'forbidden');
    });

    it('an API key on resident endpoints: 403, even the admin key', async () => {
      for (const key of [keys.admin, keys.auditor, keys.source, keys.partner]) {
        expectProblem(await t.http.get('/v1/me').set('X-API-Key', key), 403, 'forbidden');
      }
    });
  });

  describe('public endpoints', () => {
    it('health and docs need no credentials', async () => {
      await t.http.get('/health/live').expect(200);
      await t.http.get('/docs/openapi.json').expect(200);
    });
  });
});
