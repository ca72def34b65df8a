import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from '../support/app';

describe('the trial balance in pages, with subtotals per kind of account', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
    for (const [resident, amount] of [
      ['anna', '500'],
      ['boris', '250'],
      ['vera', '1200'],
    ]) {
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId: resident, amount, reason: 'welcome' })
        .expect(201);
    }
  });

  afterAll(() => t.close());

  it('pages the accounts with limit and cursor; totals and subtotals cover the whole books on every page', async () => {
    const all = (await t.http.get('/v1/audit/trial-balance').set(t.admin).expect(200)).body;
    expect(all.nextCursor).toBeNull();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (
        await t.http
          .get('/v1/audit/trial-balance')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set(t.admin)
          .expect(200)
      ).body;
      expect(page.accounts.length).toBeLessThanOrEqual(2);
      expect(page.totals).toEqual(all.totals);
      expect(page.subtotals).toEqual(all.subtotals);
      seen.push(...page.accounts.map((a: { account: string }) => a.account));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.accounts.map((a: { account: string }) => a.account));

    const residents = all.subtotals.find((s: { kind: string }) => s.kind === 'residents');
    expect(residents).toEqual({ kind: 'residents', asset: 'POINTS', accounts: 3, debits: '0', credits: '1950', net: '1950' });
    const programme = all.subtotals.find((s: { kind: string }) => s.kind === 'programme');
    expect(programme).toMatchObject({ asset: 'POINTS', debits: '1950', net: '-1950' });
    // the kinds sum to the books: zero per asset
    expect(all.subtotals.reduce((sum: number, s: { net: string }) => sum + Number(s.net), 0)).toBe(0);
    await t.http.get('/v1/audit/trial-balance').query({ cursor: 'not-ours' }).set(t.admin).expect(400);
  });
});
