import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../../src/auth/domain/api-key';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { JWT_SECRET, startTestApp, TestApp } from '../support/app';

type Credential = { name: string; role: string | null; headers: Record<string, string> };

/**
 * Every operation of the OpenAPI document against every kind of credential: those the operation
 * is for get past authentication (whatever the answer then), everyone else gets 401 (no or bad
 * credentials) or 403 (good credentials, wrong role), and never a 2xx.
 */
describe('authorisation of every role against every endpoint', () => {
  let t: TestApp;
  const credentials: Credential[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    const key = async (body: object) => (await t.http.post('/v1/admin/api-clients').set(t.admin).send(body).expect(201)).body;
    const revoked = await key({ name: 'revoked', role: 'admin' });
    await t.http.delete(`/v1/admin/api-clients/${revoked.id}`).set(t.admin).expect(200);
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    credentials.push(
      { name: 'no credentials', role: null, headers: {} },
      { name: 'a malformed key', role: null, headers: { 'X-API-Key': 'nope' } },
      { name: 'an unknown key', role: null, headers: { 'X-API-Key': generateApiKey() } },
      { name: 'a revoked key', role: null, headers: { 'X-API-Key': revoked.apiKey } },
      { name: 'an expired resident token', role: null, headers: { Authorization: `Bearer ${signResidentToken('anna', JWT_SECRET, -60)}` } },
      { name: 'an unsigned resident token', role: null, headers: { Authorization: `Bearer ${b64({ alg: 'none' })}.${b64({ sub: 'anna', exp: 4e9 })}.` } },
      { name: 'a wrongly signed resident token', role: null, headers: { Authorization: `Bearer ${signResidentToken('anna', 'w'.repeat(40))}` } },
      { name: 'a source key', role: 'source', headers: { 'X-API-Key': (await key({ name: 's', role: 'source', sourceId: 'votes' })).apiKey } },
      { name: 'a partner key', role: 'partner', headers: { 'X-API-Key': (await key({ name: 'p', role: 'partner', partnerId: 'cafe' })).apiKey } },
      { name: 'an auditor key', role: 'auditor', headers: { 'X-API-Key': (await key({ name: 'a', role: 'auditor' })).apiKey } },
      { name: 'an admin key', role: 'admin', headers: { 'X-API-Key': (await key({ name: 'adm', role: 'admin' })).apiKey } },
      { name: 'a resident token', role: 'resident', headers: t.residentAuth('anna') },
    );
  });

  afterAll(() => t.close());

  it('every operation answers each credential as its roles say', async () => {
    const doc = (await t.http.get('/docs/openapi.json').expect(200)).body;
    const failures: string[] = [];
    let checked = 0;
    for (const [path, item] of Object.entries<Record<string, { 'x-roles'?: string[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const roles = op['x-roles'];
        if (!roles) {
          failures.push(`${method.toUpperCase()} ${path} says nothing of who may call it`);
          continue;
        }
        const url = path.replace(/\{[^}]+\}/g, (name) => (name === '{account}' ? 'resident:anna' : randomUUID()));
        for (const credential of credentials) {
          const res = await t.http[method as 'get' | 'post' | 'delete'](url)
            .set(credential.headers)
            .set('Idempotency-Key', randomUUID())
            .send({});
          checked++;
          const allowed = roles.includes('public') || (credential.role !== null && roles.includes(credential.role));
          const expected = allowed ? 'past authentication' : credential.role === null ? 401 : 403;
          const ok = allowed ? res.status !== 401 && res.status !== 403 : res.status === expected;
          if (!ok) failures.push(`${method.toUpperCase()} ${path} with ${credential.name}: ${res.status}, expected ${expected}`);
          if (!allowed && res.body?.code !== (expected === 401 ? 'unauthorized' : 'forbidden')) {
            failures.push(`${method.toUpperCase()} ${path} with ${credential.name}: code ${res.body?.code}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });
});
