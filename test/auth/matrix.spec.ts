import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../../src/auth/domain/api-key';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { JWT_SECRET, startTestApp, TestApp } from '../support/app';

type Credential = {
  name: string;
  role: string | null;
  headers: Record<string, string>;
  /** Whose objects these are: the owner's (anna, cafe, votes) or another party's of the same role. */
  party?: 'owner' | 'other';
  /** The owner's secrets this credential may see in an answer. */
  sees: 'all' | string[];
};

/** Paths whose parameter names an object of one resident, partner or source: the owner's, in this test. */
const OWNED: Record<string, string> = {
  '/v1/me/redemptions/{id}': 'resident',
  '/v1/me/redemptions/{id}/cancel': 'resident',
  '/v1/partner/codes/{code}': 'partner',
  '/v1/partner/codes/{code}/redeem': 'partner',
  '/v1/partner/items/{itemId}/codes': 'partner',
  '/v1/earn-events/{externalId}': 'source',
  '/v1/earn-events/{externalId}/confirm': 'source',
  '/v1/earn-events/{externalId}/reject': 'source',
  '/v1/earn-events/{externalId}/revoke': 'source',
};

/**
 * Every operation of the OpenAPI document against every kind of credential: those the operation
 * is for get past authentication (whatever the answer then), everyone else gets 401 (no or bad
 * credentials) or 403 (good credentials, wrong role), and never a 2xx. Path parameters name real
 * objects of one resident (anna), one partner (cafe) and one source (votes): another resident,
 * partner or source gets 403 or 404 for them, and no answer to anyone carries a secret of the
 * owner's (her resident id, redemption id, code, pool codes) unless the credential may see it.
 */
describe('authorisation of every role against every endpoint', () => {
  let t: TestApp;
  const credentials: Credential[] = [];
  const owner = {
    resident: 'anna-q7x3',
    redemption: '',
    code: '',
    poolCode: 'CAFE-SECRET-POOL-0001',
    item: 'cafe-pool',
    event: 'secret-ev-1',
  };
  // a webhook of the admins': its endpoints are admin-only, and its secret is never answered again
  const webhook = { id: '', secret: '' };
  // a bulk award (admin-only), with a refused line in its error file
  const award = { id: '' };

  beforeAll(async () => {
    t = await startTestApp({ PARTNER_CODE_RATE_PER_MINUTE: '100000' });
    const ok = async (req: Promise<{ status: number; body: any }>, status = 201) => {
      const res = await req;
      if (res.status !== status) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    for (const id of ['votes', 'ideas']) await ok(t.http.post('/v1/admin/sources').set(t.admin).send({ id, name: id }));
    for (const id of ['cafe', 'museum']) await ok(t.http.post('/v1/admin/partners').set(t.admin).send({ id, name: id, kind: 'cafe' }));
    await ok(
      t.http.post('/v1/admin/earning-rules').set(t.admin).send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' }),
    );
    const key = async (body: object) => ok(t.http.post('/v1/admin/api-clients').set(t.admin).send(body));
    const revoked = await key({ name: 'revoked', role: 'admin' });
    await ok(t.http.delete(`/v1/admin/api-clients/${revoked.id}`).set(t.admin), 200);

    // the owner's objects: a redemption with a code of cafe's, a pool code not yet issued, an earn event of votes
    await ok(
      t.http
        .post('/v1/admin/catalogue-items')
        .set(t.admin)
        .send({ id: 'cafe-gen', kind: 'PROMO_CODE', title: 'Cake', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' }),
    );
    await ok(
      t.http
        .post('/v1/admin/catalogue-items')
        .set(t.admin)
        .send({ id: owner.item, kind: 'PROMO_CODE', title: 'Tea', partnerId: 'cafe', pricePoints: '10', codeSource: 'POOL' }),
    );
    await ok(
      t.http
        .post(`/v1/admin/items/${owner.item}/codes`)
        .set(t.admin)
        .send({ codes: [owner.poolCode] }),
      200,
    );
    await ok(
      t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId: owner.resident, amount: '500', reason: 'opening' }),
    );
    const redemption = await ok(
      t.http
        .post('/v1/me/redemptions')
        .set(t.residentAuth(owner.resident))
        .set('Idempotency-Key', randomUUID())
        .send({ itemId: 'cafe-gen' }),
    );
    owner.redemption = redemption.id;
    owner.code = redemption.codes[0].code;
    const votesKey = (await key({ name: 's', role: 'source', sourceId: 'votes' })).apiKey;
    await ok(
      t.http
        .post('/v1/earn-events')
        .set('X-API-Key', votesKey)
        .send({
          events: [
            {
              externalId: owner.event,
              type: 'vote.cast',
              residentId: owner.resident,
              occurredAt: new Date(Date.now() - 60_000).toISOString(),
            },
          ],
        }),
      202,
    );

    const hook = await ok(
      t.http
        .post('/v1/admin/webhooks')
        .set(t.admin)
        .send({ url: 'https://93.184.215.14/hooks', events: ['reconciliation.failed'] }),
    );
    Object.assign(webhook, { id: hook.id, secret: hook.secret });
    const uploaded = await ok(
      t.http
        .post('/v1/admin/awards?description=Matrix%20prize')
        .set(t.admin)
        .set('Content-Type', 'text/csv')
        .send('winner-1,100,a\nwinner-2,-5,b\n'),
      202,
    );
    award.id = uploaded.id;

    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none: string[] = [];
    credentials.push(
      { name: 'no credentials', role: null, headers: {}, sees: none },
      { name: 'a malformed key', role: null, headers: { 'X-API-Key': 'nope' }, sees: none },
      { name: 'an unknown key', role: null, headers: { 'X-API-Key': generateApiKey() }, sees: none },
      { name: 'a revoked key', role: null, headers: { 'X-API-Key': revoked.apiKey }, sees: none },
      {
        name: 'an expired resident token',
        role: null,
        headers: { Authorization: `Bearer ${signResidentToken(owner.resident, JWT_SECRET, -60)}` },
        sees: none,
      },
      {
        name: 'an unsigned resident token',
        role: null,
        headers: { Authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: owner.resident, exp: 4e9 })}.` },
        sees: none,
      },
      {
        name: 'a wrongly signed resident token',
        role: null,
        headers: { Authorization: `Bearer ${signResidentToken(owner.resident, 'w'.repeat(40))}` },
        sees: none,
      },
      { name: 'a source key', role: 'source', party: 'owner', headers: { 'X-API-Key': votesKey }, sees: [owner.resident] },
      {
        name: 'a source key of another source',
        role: 'source',
        party: 'other',
        headers: { 'X-API-Key': (await key({ name: 's2', role: 'source', sourceId: 'ideas' })).apiKey },
        sees: none,
      },
      {
        name: 'a partner key',
        role: 'partner',
        party: 'owner',
        headers: { 'X-API-Key': (await key({ name: 'p', role: 'partner', partnerId: 'cafe' })).apiKey },
        sees: [owner.code, owner.poolCode],
      },
      {
        name: 'a partner key of another partner',
        role: 'partner',
        party: 'other',
        headers: { 'X-API-Key': (await key({ name: 'p2', role: 'partner', partnerId: 'museum' })).apiKey },
        sees: none,
      },
      {
        name: 'an auditor key',
        role: 'auditor',
        headers: { 'X-API-Key': (await key({ name: 'a', role: 'auditor' })).apiKey },
        sees: 'all',
      },
      { name: 'an admin key', role: 'admin', headers: { 'X-API-Key': (await key({ name: 'adm', role: 'admin' })).apiKey }, sees: 'all' },
      {
        name: 'a resident token',
        role: 'resident',
        party: 'owner',
        headers: t.residentAuth(owner.resident),
        sees: [owner.resident, owner.redemption, owner.code],
      },
      { name: "another resident's token", role: 'resident', party: 'other', headers: t.residentAuth('bella-k2m9'), sees: none },
    );
  });

  afterAll(() => t.close());

  it('every operation answers each credential as its roles say, and tells no one what is not theirs', async () => {
    const doc = (await t.http.get('/docs/openapi.json').expect(200)).body;
    const secrets = () => [owner.resident, owner.redemption, owner.code, owner.poolCode, webhook.secret];
    const params: Record<string, string> = {
      '{account}': `resident:${owner.resident}`,
      '{code}': owner.code,
      '{externalId}': owner.event,
      '{itemId}': owner.item,
    };
    const failures: string[] = [];
    let checked = 0;
    let leakChecks = 0;
    const ownersSaw = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, { 'x-roles'?: string[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const roles = op['x-roles'];
        if (!roles) {
          failures.push(`${method.toUpperCase()} ${path} says nothing of who may call it`);
          continue;
        }
        const ownedBy = OWNED[path];
        const url = path.replace(
          /\{[^}]+\}/g,
          (name) =>
            params[name] ??
            (name === '{id}' && path.startsWith('/v1/me/redemptions')
              ? owner.redemption
              : name === '{id}' && path.startsWith('/v1/admin/webhooks')
                ? webhook.id
                : name === '{id}' && path.startsWith('/v1/admin/awards')
                  ? award.id
                  : randomUUID()),
        );
        // the owners act last, so that what they change (a cancel, a redeem) does not decide the others' answers
        const ordered = [...credentials].sort((a, b) => Number(a.party === 'owner') - Number(b.party === 'owner'));
        for (const credential of ordered) {
          const res = await t.http[method as 'get' | 'post' | 'delete' | 'patch'](url)
            .set(credential.headers)
            .set('Idempotency-Key', randomUUID())
            // an upload that would be valid: only the item's owner may make it
            .send(path.endsWith('/codes') ? { codes: [`TRY-${randomUUID()}`] } : {});
          checked++;
          const what = `${method.toUpperCase()} ${path} with ${credential.name}`;
          const allowed = roles.includes('public') || (credential.role !== null && roles.includes(credential.role));
          if (!allowed) {
            const expected = credential.role === null ? 401 : 403;
            if (res.status !== expected) failures.push(`${what}: ${res.status}, expected ${expected}`);
            if (res.body?.code !== (expected === 401 ? 'unauthorized' : 'forbidden')) failures.push(`${what}: code ${res.body?.code}`);
          } else if (ownedBy === credential.role && credential.party === 'other') {
            if (res.status !== 404 && res.status !== 403)
              failures.push(`${what}: ${res.status}, expected 404 (or 403) for another's object`);
          } else if (res.status === 401 || res.status === 403) {
            failures.push(`${what}: ${res.status}, expected to get past authentication`);
          }
          // no answer carries the owner's secrets to someone who may not see them (what the request itself named aside)
          if (credential.sees !== 'all') {
            const { instance: _, ...rest } = typeof res.body === 'object' && res.body ? res.body : ({} as Record<string, unknown>);
            const text = `${JSON.stringify(rest)} ${res.type === 'text/csv' || res.type === 'text/plain' ? res.text : ''} ${res.headers['location'] ?? ''}`;
            for (const secret of credential.sees) if (!url.includes(secret) && text.includes(secret)) ownersSaw.add(secret);
            for (const secret of secrets()) {
              if (!credential.sees.includes(secret) && !url.includes(secret) && text.includes(secret))
                failures.push(`${what}: the answer names ${secret}`);
            }
            leakChecks++;
          }
        }
      }
    }

    console.log(
      `authorisation matrix: ${checked} requests (${credentials.length} credentials), ${leakChecks} answers checked for others' data`,
    );
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    // the check can see a leak: the owners' own answers do carry these secrets
    expect([...ownersSaw].sort()).toEqual([owner.resident, owner.redemption, owner.code].sort());
  });
});
