import { DEMO_CATEGORIES, DEMO_PARTNERS, DEMO_SOURCES, seedDemo } from '../../src/demo/demo';
import { expiryOf } from '../../src/ledger/domain/expiry';
import { DemoSignIns } from '../../src/pages/demo-sign-ins';
import { PageClient } from '../pages/support';
import { ReconciliationRun } from '../../src/audit/reconciliation.service';
import { startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';

describe('npm run demo: a small day of the city on PostgreSQL', () => {
  let t: TestApp;
  let run: ReconciliationRun;
  let summary = '';
  const steps: string[] = [];

  beforeAll(async () => {
    // as the demo runs on a fresh machine: no Redis, batches processed in-process
    t = await startTestApp({ REDIS_URL: '', WEBHOOK_ALLOW_PRIVATE: 'true' });
    run = await seedDemo(t.app, t.config, 'http://localhost:3000', {
      events: 400,
      seed: 42,
      out: { write: (text: string) => (summary += text) } as never,
      progress: (title) => {
        steps.push(title);
        return { tick: () => undefined, stop: () => undefined };
      },
    });
  }, 120_000);

  afterAll(() => t.close());

  it('turns a points expiry policy on, and boris has points that expire this month', async () => {
    const policy = (await t.http.get('/v1/admin/expiry-policy').set(t.admin).expect(200)).body;
    expect(policy).toEqual({ afterDays: 365, roundUpTo: 'month_end', noticeDays: 14 });
    const balance = (await t.http.get('/v1/me/balance').set(t.residentAuth('boris')).expect(200)).body;
    expect(balance.expiring[0]).toEqual({ amount: '80', expiresAt: expiryOf(new Date(), 0, 'month_end')!.toISOString() });
  });

  it('seeds the programme: sources, partners, rules, a campaign, the catalogue with code pools', async () => {
    const sources = (await t.http.get('/v1/admin/sources').set(t.admin).expect(200)).body.items.map((s: { id: string }) => s.id);
    expect(sources).toEqual(expect.arrayContaining(DEMO_SOURCES.map((s) => s.id)));
    const partners = (await t.http.get('/v1/admin/partners').set(t.admin).expect(200)).body.items;
    expect(partners.map((p: { id: string }) => p.id)).toEqual(expect.arrayContaining(DEMO_PARTNERS.map((p) => p.id)));
    expect(partners.filter((p: { kind: string }) => p.kind === 'charity')).toHaveLength(2);
    const campaigns = (await t.http.get('/v1/admin/campaigns').set(t.admin).expect(200)).body.items;
    expect(campaigns).toEqual([expect.objectContaining({ id: 'autumn-votes', multiplier: '1.5' })]);
    const catalogue = (await t.http.get('/v1/catalogue').expect(200)).body.items.map((i: { id: string }) => i.id);
    expect(catalogue).toEqual(expect.arrayContaining(['coffee-20', 'book-10', 'museum-night', 'park-day', 'shelter', 'children']));
  });

  it('seeds the catalogue’s categories and puts every item in one', async () => {
    const categories = (await t.http.get('/v1/catalogue/categories').expect(200)).body.items;
    expect(categories.map((c: { id: string }) => c.id)).toEqual(DEMO_CATEGORIES.map((c) => c.id));
    expect(categories.every((c: { itemCount: number }) => c.itemCount > 0)).toBe(true);
    const items = (await t.http.get('/v1/catalogue?limit=500').expect(200)).body.items;
    expect(items.filter((i: { categoryId: string | null }) => i.categoryId === null)).toEqual([]);
  });

  it('names the pages and offers one-click sign-ins that open them', async () => {
    expect(summary).toContain('http://localhost:3000/app/login');
    expect(summary).toContain('http://localhost:3000/app/till');
    const signIns = t.app.get(DemoSignIns).list();
    expect(signIns.map((s) => s.role)).toEqual(expect.arrayContaining(['resident', 'partner', 'auditor', 'admin']));
    const museum = signIns.find((s) => s.user.kind === 'client' && s.user.partnerId === 'city-museum')!;
    const base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const c = new PageClient(base);
    await c.get('/app/login');
    expect((await c.post(`/app/login/demo/${museum.id}`)).headers.location).toBe('/app/till');
    expect((await c.get('/app/till')).text).toContain('City Museum');
  });

  it('plays the day: events posted with the campaign’s bonus, reports confirmed, one vote revoked, codes redeemed at tills, donations', async () => {
    const vote = await t.prisma.earnEvent.findFirstOrThrow({ where: { type: 'vote.cast', status: 'posted' } });
    expect(vote.points!.toString()).toBe('30'); // 20 points x1.5
    const byStatus = Object.fromEntries(
      (await t.prisma.earnEvent.groupBy({ by: ['status'], _count: true })).map((g) => [g.status, g._count]),
    );
    expect(byStatus).toMatchObject({ posted: expect.any(Number), rejected: expect.any(Number), revoked: 1 });
    expect(byStatus.received).toBeUndefined();
    expect(await t.prisma.redemption.count({ where: { kind: 'DONATION' } })).toBeGreaterThan(0);
    expect(await t.prisma.redemption.count({ where: { kind: { not: 'DONATION' } } })).toBeGreaterThan(0);
    const stats = (await t.http.get('/v1/public/stats').expect(200)).body;
    expect(Number(stats.redeemed)).toBeGreaterThan(0);
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    expect(steps).toEqual(
      expect.arrayContaining(['earn events sent', 'earn events processed', 'reports answered', 'redemptions', 'codes redeemed at tills']),
    );
  });

  it('seals what the day made before the summary: a proof of its last transaction works at once', async () => {
    const last = await t.prisma.ledgerTransaction.findFirstOrThrow({ orderBy: { seq: 'desc' } });
    const proof = await t.http.get(`/v1/audit/transactions/${last.id}/proof`).set(t.admin).expect(200);
    expect(proof.body.transactionId).toBe(last.id);
  });

  it('reconciles the books: every check passes', () => {
    expect(run.status).toBe('passed');
    expect(run.checks.every((c) => c.passed)).toBe(true);
  });

  it('prints the summary, the URLs and working keys', async () => {
    expect(summary).toMatch(/earn events +\d+ sent: accepted \d+, duplicate 25, rejected \d+/);
    expect(summary).toMatch(/revoked vote +day-\w+-\d+ of /);
    expect(summary).toMatch(/at the tills +\d+ code\(s\) redeemed by partners; refused: code_already_redeemed 1/);
    expect(summary).toMatch(/donations +\S+ \d+/);
    // the demo's receiver got the day's events (as many as arrived within its wait), every signature verified
    expect(summary).toMatch(
      /webhooks +[1-9]\d* delivered to http:\/\/127\.0\.0\.1:\d+\/city-notifications, signatures verified \(.*earn_event\.posted [1-9]/,
    );
    expect(summary).not.toMatch(/REFUSED/);
    expect(summary).toContain(`reconciliation  ${run.id}: passed, 13 of 13 checks passed`);
    expect(summary).toContain('http://localhost:3000/docs');
    expect(summary).toContain('Bull Board needs Redis');
    const auditorKey = /^ {2}auditor +(\S+)$/m.exec(summary)![1];
    await t.http.get('/v1/audit/trial-balance').set('X-API-Key', auditorKey).expect(200);
    expect(summary).toMatch(/^ {2}export ADMIN=\S+ AUDITOR=\S+ SOURCE=\S+ REPORTS=\S+ PARTNER=\S+ TOKEN=\S+$/m);
    const annaToken = /^ {2}anna \(\d+ points\) +(\S+)$/m.exec(summary)![1];
    await t.http.get('/v1/me/balance').set('Authorization', `Bearer ${annaToken}`).expect(200);
  });

  it('a restart revokes the keys the last start made: live demo keys never pile up', async () => {
    const before = /^ {2}auditor +(\S+)$/m.exec(summary)![1];
    let again = '';
    await seedDemo(t.app, t.config, 'http://localhost:3000', {
      events: 10,
      seed: 43,
      out: { write: (text: string) => (again += text) } as never,
      progress: () => ({ tick: () => undefined, stop: () => undefined }),
    });
    const after = /^ {2}auditor +(\S+)$/m.exec(again)![1];
    await new Promise((r) => setTimeout(r, 100));
    await t.http.get('/v1/audit/trial-balance').set('X-API-Key', after).expect(200);
    expect((await t.http.get('/v1/audit/trial-balance').set('X-API-Key', before)).status).toBe(401);
    const live = await t.prisma.apiClient.count({ where: { revokedAt: null, name: { startsWith: 'demo ' } } });
    expect(live).toBe(2 + DEMO_SOURCES.length + DEMO_PARTNERS.length);
  }, 120_000);
});
