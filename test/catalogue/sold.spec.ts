import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp } from '../support/app';

/** coffee-20 in the demo showed sold 0 after 86 redemptions: an item without a stock limit never counted its sales. */
describe('the catalogue counts what was sold of every item', () => {
  let t: TestApp;
  const key = () => ({ 'Idempotency-Key': randomUUID() });
  const soldIn = async (id: string) =>
    (await t.http.get('/v1/catalogue').expect(200)).body.items.find((i: { id: string }) => i.id === id).sold;

  beforeAll(async () => {
    t = await startTestApp();
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'coffee-chain', name: 'Coffee Chain', kind: 'cafe' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'coffee-20',
        kind: 'PROMO_CODE',
        title: '20% off',
        partnerId: 'coffee-chain',
        pricePoints: '100',
        codeSource: 'POOL',
        perResidentLimit: 2,
      })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({
        id: 'mug',
        kind: 'PROMO_CODE',
        title: 'A mug',
        partnerId: 'coffee-chain',
        pricePoints: '50',
        codeSource: 'GENERATED',
        stock: 10,
      })
      .expect(201);
    await t.http
      .post('/v1/admin/items/coffee-20/codes')
      .set(t.admin)
      .send({ codes: Array.from({ length: 10 }, (_, i) => `CAFE-${1000 + i}`) })
      .expect(200);
    for (const resident of ['anna', 'boris', 'vera']) {
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set(key())
        .send({ residentId: resident, amount: '500', reason: 'welcome' })
        .expect(201);
    }
  });

  afterAll(() => t.close());

  it('an unlimited pool item: every sale counts, a cancelled one is given back', async () => {
    expect(await soldIn('coffee-20')).toBe(0);
    await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'coffee-20', quantity: 2 }).expect(201);
    await t.http.post('/v1/me/redemptions').set(t.residentAuth('boris')).set(key()).send({ itemId: 'coffee-20' }).expect(201);
    const vera = (await t.http.post('/v1/me/redemptions').set(t.residentAuth('vera')).set(key()).send({ itemId: 'coffee-20' }).expect(201))
      .body;
    expect(await soldIn('coffee-20')).toBe(4);
    await t.http.post(`/v1/me/redemptions/${vera.id}/cancel`).set(t.residentAuth('vera')).expect(200);
    expect(await soldIn('coffee-20')).toBe(3);
    expect((await t.http.get('/v1/admin/catalogue-items/coffee-20').set(t.admin).expect(200)).body).toMatchObject({ sold: 3, stock: null });
    // and vera's history says what happened, in her words
    const history = (await t.http.get('/v1/me/history').set(t.residentAuth('vera')).expect(200)).body.items;
    expect(history.map((h: { description: string }) => h.description)).toEqual([
      'Refunded: 20% off',
      'Bought: 20% off',
      'Added by the programme: welcome',
    ]);
  });

  it('an item with a stock keeps counting against it', async () => {
    await t.http.post('/v1/me/redemptions').set(t.residentAuth('anna')).set(key()).send({ itemId: 'mug', quantity: 3 }).expect(201);
    const mug = (await t.http.get('/v1/catalogue').expect(200)).body.items.find((i: { id: string }) => i.id === 'mug');
    expect(mug).toMatchObject({ stock: 10, sold: 3, available: 7 });
  });
});
