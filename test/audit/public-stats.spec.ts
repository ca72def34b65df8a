import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from '../support/app';

describe('public programme statistics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  const key = () => ({ 'Idempotency-Key': randomUUID() });
  const earn = (residentId: string, amount: string) =>
    t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set(key())
      .send({
        type: 'earn',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: amount },
          { account: `resident:${residentId}`, asset: 'POINTS', credit: amount },
        ],
      })
      .expect(201);

  it('are the ledger’s own totals: issued, redeemed, donated per fund, outstanding, residents', async () => {
    await earn('anna', '300');
    await earn('boris', '200');
    await earn('vera', '50');
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'fund', name: 'Fund', kind: 'charity' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'tea', kind: 'PROMO_CODE', title: 'Tea', partnerId: 'cafe', pricePoints: '100', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'give', kind: 'DONATION', title: 'Give', partnerId: 'fund', minPoints: '1', maxPoints: '1000' })
      .expect(201);
    await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'tea' }).expect(201);
    await t.http.post('/v1/me/donations').set(t.residentAuth('boris')).set(key()).send({ itemId: 'give', amount: '200' }).expect(201);
    // no credentials needed
    const stats = (await t.http.get('/v1/public/stats').expect(200)).body;
    expect(stats).toMatchObject({
      issued: '550',
      redeemed: '100',
      donated: [{ fundId: 'fund', points: '200' }],
      outstanding: '250',
      residentsWithBalance: 2,
    });
    expect(stats.perDay).toHaveLength(1);
    expect(stats.perDay[0]).toMatchObject({ issued: '550', redeemed: '100', donated: '200' });
  });
});
