import { randomUUID } from 'node:crypto';
import { SealService } from '../../src/audit/seal.service';
import { startTestApp, TestApp } from '../support/app';
import { baseOf, PageClient, signInResident, signInWithKey, tillStatus } from '../pages/support';

type Who = { name: string; audience: 'resident' | 'partner' | 'auditor' | 'admin' | null; party?: 'owner' | 'other'; client: PageClient };

/**
 * Every page against every kind of user, as the API's matrix does for endpoints: someone not
 * signed in is sent to sign in, another role gets 403, another resident or partner sees nothing
 * of the owner's (404, or "unknown" at the till), and no one else's page ever shows the owner's code.
 */
describe('authorisation of every page for every role', () => {
  let t: TestApp;
  let base: string;
  const owner = { resident: 'anna-p4x8', redemption: '', code: '', transaction: '', run: '' };
  const who: Who[] = [];

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_PER_MINUTE: '10000' });
    base = await baseOf(t);
    const ok = async (req: Promise<{ status: number; body: any }>, status = 201) => {
      const res = await req;
      if (res.status !== status) throw new Error(`setup: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    for (const id of ['cafe', 'museum']) await ok(t.http.post('/v1/admin/partners').set(t.admin).send({ id, name: id, kind: 'cafe' }));
    await ok(
      t.http
        .post('/v1/admin/catalogue-items')
        .set(t.admin)
        .send({ id: 'cake', kind: 'PROMO_CODE', title: 'Secret cake', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' }),
    );
    await ok(
      t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId: owner.resident, amount: '500', reason: 'opening' }),
    );
    const r = await ok(
      t.http.post('/v1/me/redemptions').set(t.residentAuth(owner.resident)).set('Idempotency-Key', randomUUID()).send({ itemId: 'cake' }),
    );
    owner.redemption = r.id;
    owner.code = r.codes[0].code;
    owner.transaction = (await ok(t.http.get('/v1/audit/transactions?type=redeem').set(t.admin), 200)).items[0].id;
    owner.run = (await ok(t.http.post('/v1/audit/reconciliations').set(t.admin), 202)).id;
    await t.app.get(SealService).seal(new Date(Date.now() + 1000));
    const key = async (body: object) => (await ok(t.http.post('/v1/admin/api-clients').set(t.admin).send(body))).apiKey as string;
    const token = (id: string) => t.residentAuth(id, 3600).Authorization.slice('Bearer '.length);
    const anonymous = new PageClient(base);
    await anonymous.get('/app/login');
    who.push(
      { name: 'no session', audience: null, client: anonymous },
      { name: 'the resident', audience: 'resident', party: 'owner', client: await signInResident(base, token(owner.resident)) },
      { name: 'another resident', audience: 'resident', party: 'other', client: await signInResident(base, token('bella-k2m9')) },
      {
        name: 'the partner',
        audience: 'partner',
        party: 'owner',
        client: await signInWithKey(base, await key({ name: 'p', role: 'partner', partnerId: 'cafe' })),
      },
      {
        name: 'another partner',
        audience: 'partner',
        party: 'other',
        client: await signInWithKey(base, await key({ name: 'p2', role: 'partner', partnerId: 'museum' })),
      },
      { name: 'an auditor', audience: 'auditor', client: await signInWithKey(base, await key({ name: 'a', role: 'auditor' })) },
      { name: 'an admin', audience: 'admin', client: await signInWithKey(base, await key({ name: 'adm', role: 'admin' })) },
    );
  });

  afterAll(() => t.close());

  it('each page answers each user as its audience says', async () => {
    const pages: {
      method: 'GET' | 'POST';
      path: string;
      audience: Who['audience'][];
      owned?: 'resident' | 'partner';
      /** its audience may see every resident's codes (the finance console traces a redemption to its code) */
      staff?: boolean;
      /** what the page answers its audience */
      ok?: number;
    }[] = [
      { method: 'GET', path: '/app', audience: ['resident'] },
      { method: 'GET', path: '/app/catalogue', audience: ['resident'] },
      { method: 'GET', path: '/app/history', audience: ['resident'] },
      { method: 'GET', path: '/app/codes', audience: ['resident'] },
      { method: 'GET', path: `/app/codes/${owner.redemption}`, audience: ['resident'], owned: 'resident' },
      { method: 'GET', path: '/app/redeem/cake', audience: ['resident'] },
      { method: 'GET', path: '/app/till', audience: ['partner'] },
      { method: 'GET', path: `/app/till?code=${owner.code}`, audience: ['partner'], owned: 'partner' },
      { method: 'GET', path: '/app/finance', audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance?from=2026-01-01&to=2026-01-31', audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance/trial-balance?asOf=2026-01-01T12:00&sort=balance&dir=desc', audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance/trial-balance.csv', audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance/liability?asOf=2026-01-01T12:00', audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance/awards', audience: ['auditor', 'admin'] },
      { method: 'GET', path: `/app/finance/accounts?q=${owner.resident}`, audience: ['auditor', 'admin'] },
      { method: 'GET', path: `/app/finance/statement?account=resident:${owner.resident}`, audience: ['auditor', 'admin'] },
      { method: 'GET', path: `/app/finance/statement.csv?account=resident:${owner.resident}`, audience: ['auditor', 'admin'] },
      { method: 'GET', path: `/app/finance/transactions/${owner.transaction}`, audience: ['auditor', 'admin'], staff: true },
      { method: 'GET', path: `/app/finance/transactions/${owner.transaction}/proof.json`, audience: ['auditor', 'admin'] },
      { method: 'GET', path: '/app/finance/reconciliations', audience: ['auditor', 'admin'] },
      { method: 'GET', path: `/app/finance/reconciliations/${owner.run}`, audience: ['auditor', 'admin'] },
      // posts that would change something: only the owner's may (they go last, see below)
      { method: 'POST', path: '/app/redeem/cake', audience: ['resident'] },
      { method: 'POST', path: `/app/codes/${owner.redemption}/cancel`, audience: ['resident'], owned: 'resident' },
      { method: 'POST', path: '/app/till/redeem', audience: ['partner'], owned: 'partner' },
      // only an admin may start a reconciliation: an auditor's forged post is refused like any other role's
      { method: 'POST', path: '/app/finance/reconciliations', audience: ['admin'], ok: 303 },
    ];
    const failures: string[] = [];
    let checked = 0;
    const ordered = [...who].sort((a, b) => Number(a.party === 'owner') - Number(b.party === 'owner'));
    for (const page of pages) {
      for (const user of ordered) {
        if (page.method === 'POST' && user.party === 'owner') continue; // the owners' own writes are the pages spec's stories
        const c = user.client;
        await c.get('/app/login'); // this user's CSRF token: a refusal below is the page's, not the token's
        const res = page.method === 'GET' ? await c.get(page.path) : await c.post(page.path, { code: owner.code, formKey: randomUUID() });
        checked++;
        const what = `${page.method} ${page.path} by ${user.name}`;
        if (user.audience === null) {
          const to = page.audience.includes('resident') ? '/app/login/resident' : '/app/login';
          if (res.status !== 302 || res.headers.location !== to)
            failures.push(`${what}: ${res.status} ${res.headers.location}, expected 302 to ${to}`);
        } else if (!page.audience.includes(user.audience)) {
          if (res.status !== 403) failures.push(`${what}: ${res.status}, expected 403`);
        } else if (page.owned && user.party === 'other') {
          if (page.owned === 'resident' && res.status !== 404) failures.push(`${what}: ${res.status}, expected 404`);
          if (page.owned === 'partner' && tillStatus(res.text) !== 'unknown')
            failures.push(`${what}: till shows ${tillStatus(res.text)}, expected unknown`);
        } else if (page.ok ? res.status !== page.ok : ![200, 409].includes(res.status)) {
          failures.push(`${what}: ${res.status}, expected the page`);
        }
        // what the request itself named (a code typed at the till) aside
        const named = page.path.includes(owner.code) || page.path === '/app/till/redeem';
        const staff = page.staff && page.audience.includes(user.audience);
        if (user.party !== 'owner' && !named && !staff && res.text?.includes(owner.code))
          failures.push(`${what}: the page shows the owner's code`);
        // the item is public; that this code is for it is not
        if (page.owned && user.party === 'other' && res.text?.includes('Secret cake'))
          failures.push(`${what}: the page names the owner's item`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(140);
    // nothing the others tried changed the owner's code or points
    const mine = (await t.http.get(`/v1/me/redemptions/${owner.redemption}`).set(t.residentAuth(owner.resident)).expect(200)).body;
    expect(mine).toMatchObject({ status: 'completed', codes: [{ code: owner.code, status: 'issued' }] });
    // the owners' own pages show what is theirs
    expect((await who[1].client.get(`/app/codes/${owner.redemption}`)).text).toContain(owner.code);
    expect(tillStatus((await who[3].client.get(`/app/till?code=${owner.code}`)).text)).toBe('issued');
  });

  it('a finance form post without its CSRF token is refused and starts nothing', async () => {
    const adminPages = who.find((w) => w.audience === 'admin')!.client;
    await adminPages.get('/app/finance/reconciliations');
    const before = (await t.http.get('/v1/audit/reconciliations').set(t.admin).expect(200)).body.items.length;
    expect((await adminPages.post('/app/finance/reconciliations', {}, null)).status).toBe(403);
    expect((await adminPages.post('/app/finance/reconciliations', {}, 'forged-token')).status).toBe(403);
    expect((await t.http.get('/v1/audit/reconciliations').set(t.admin).expect(200)).body.items).toHaveLength(before);
  });

  it('sign-in is rate-limited per address', async () => {
    const limited = await startTestApp({ LOGIN_RATE_PER_MINUTE: '3' });
    try {
      const c = new PageClient(await baseOf(limited));
      await c.get('/app/login');
      for (let i = 0; i < 3; i++) expect((await c.post('/app/login', { apiKey: `cpl_guess_${i}` })).status).toBe(401);
      const refused = await c.post('/app/login', { apiKey: limited.config.adminApiKey! });
      expect(refused.status).toBe(429);
      expect(refused.text).toContain('Слишком много попыток входа');
      expect(refused.headers['set-cookie']?.toString() ?? '').not.toContain('civic_session');
    } finally {
      await limited.close();
    }
  });
});
