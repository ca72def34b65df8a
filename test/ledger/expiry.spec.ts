import { randomUUID } from 'node:crypto';
import { LedgerService } from '../../src/ledger/ledger.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';

describe('holds that expire', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  it('a hold past its expiry cannot be posted, and the sweeper gives the points back', async () => {
    const zoya = `z${randomUUID().slice(0, 8)}`;
    await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ residentId: zoya, amount: '100', reason: 'opening' })
      .expect(201);
    const hold = await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'redeem',
        pending: true,
        expiresAt: new Date(Date.now() + 1000).toISOString(),
        postings: [
          { account: `resident:${zoya}`, asset: 'POINTS', debit: '100' },
          { account: 'partner:museum:redeemed', asset: 'POINTS', credit: '100' },
        ],
      })
      .expect(201);
    expect(hold.body.expiresAt).toEqual(expect.any(String));
    await new Promise((r) => setTimeout(r, 1200));

    expectProblem(await t.http.post(`/v1/ledger/transactions/${hold.body.id}/post`).set(t.admin).send({}), 409, 'invalid_state');
    const balance = () => t.http.get(`/v1/ledger/accounts/resident:${zoya}/balance`).set(t.admin);
    expect((await balance()).body).toMatchObject({ available: '0', pendingOut: '100' });

    expect(await t.app.get(LedgerService).expireHolds()).toBe(1);
    expect((await balance()).body).toMatchObject({ posted: '100', available: '100', pendingOut: '0' });
    const after = await t.http.get(`/v1/ledger/transactions/${hold.body.id}`).set(t.admin).expect(200);
    expect(after.body.status).toBe('expired');
    expect(await t.app.get(LedgerService).expireHolds()).toBe(0);
  });
});
