import { randomUUID } from 'node:crypto';
import { databaseErrorOf } from '../../src/infra/database/prisma.service';
import { LedgerRepository } from '../../src/ledger/ledger.repository';
import { LedgerService } from '../../src/ledger/ledger.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';

/**
 * A pending transaction stops holding at its expiresAt (API.md): from that moment it no longer
 * reduces `available` and cannot be posted; the sweeper only records the release. Every test
 * here looks at the moment of expiry without running the sweeper.
 */
describe('holds that expire', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  const hold = async (residentId: string, amount: string, ms: number) =>
    (
      await t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({
          type: 'redeem',
          pending: true,
          expiresAt: new Date(Date.now() + ms).toISOString(),
          postings: [
            { account: `resident:${residentId}`, asset: 'POINTS', debit: amount },
            { account: 'partner:museum:redeemed', asset: 'POINTS', credit: amount },
          ],
        })
        .expect(201)
    ).body;
  const balance = async (residentId: string) =>
    (await t.http.get(`/v1/ledger/accounts/resident:${residentId}/balance`).set(t.admin).expect(200)).body;
  const status = async (id: string) => (await t.http.get(`/v1/ledger/transactions/${id}`).set(t.admin).expect(200)).body.status;
  const until = (iso: string) => new Promise((r) => setTimeout(r, Math.max(0, Date.parse(iso) - Date.now() + 50)));

  it('at its expiry a hold no longer reduces available and cannot be posted; the sweeper only records the release', async () => {
    const zoya = `z${randomUUID().slice(0, 8)}`;
    await grant(zoya, '100');
    const h = await hold(zoya, '100', 4000);
    expect(await balance(zoya)).toMatchObject({ posted: '100', available: '0', pendingOut: '100' });
    await until(h.expiresAt);

    // the moment has passed, the sweeper has not run
    expect(await status(h.id)).toBe('pending');
    expect(await balance(zoya)).toMatchObject({ posted: '100', available: '100', pendingOut: '0' });
    expect((await t.http.get('/v1/me/balance').set(t.residentAuth(zoya)).expect(200)).body.available).toBe('100');
    expectProblem(await t.http.post(`/v1/ledger/transactions/${h.id}/post`).set(t.admin).send({}), 409, 'invalid_state');

    // then the sweeper records the release, and nothing changes for the resident
    expect(await t.app.get(LedgerService).expireHolds()).toBe(1);
    expect(await balance(zoya)).toMatchObject({ posted: '100', available: '100', pendingOut: '0' });
    expect(await status(h.id)).toBe('expired');
    expect(await t.app.get(LedgerService).expireHolds()).toBe(0);
  });

  it('the points of an expired hold can be spent before the sweep: the ledger records the release first', async () => {
    const ivan = `i${randomUUID().slice(0, 8)}`;
    await grant(ivan, '100');
    const h = await hold(ivan, '80', 4000);
    // before the expiry the hold still holds: 80 of 100 are reserved
    expectProblem(
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId: ivan, amount: '-50', reason: 'too early' }),
      409,
      'insufficient_points',
    );
    await until(h.expiresAt);
    const spent = await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ residentId: ivan, amount: '-90', reason: 'spent after the expiry' })
      .expect(201);
    expect(spent.body.status).toBe('posted');
    expect(await balance(ivan)).toMatchObject({ posted: '10', available: '10', pendingOut: '0' });
    // released by that write (a hold.expired void, as the sweeper writes), so the sweeper finds nothing
    expect(await status(h.id)).toBe('expired');
    const settled = await t.http.get(`/v1/ledger/transactions/${h.id}`).set(t.admin).expect(200);
    expect((await t.http.get(`/v1/ledger/transactions/${settled.body.settledBy}`).set(t.admin).expect(200)).body).toMatchObject({
      type: 'hold.expired',
      status: 'void',
    });
    expect(await t.app.get(LedgerService).expireHolds()).toBe(0);
  });

  it('the ledger’s door itself refuses to post a hold past its expiry (not only the service’s check)', async () => {
    const olga = `o${randomUUID().slice(0, 8)}`;
    await grant(olga, '30');
    const h = await hold(olga, '30', 4000);
    await until(h.expiresAt);
    const ledger = t.app.get(LedgerRepository);
    const [resident, museum] = await Promise.all([
      ledger.findAccount(`resident:${olga}`, 'POINTS'),
      ledger.findAccount('partner:museum:redeemed', 'POINTS'),
    ]);
    const { Decimal } = await import('../../src/common/money');
    const refused = await ledger
      .record([
        {
          id: randomUUID(),
          type: 'hold.posted',
          kind: 'posted',
          pendingId: h.id,
          metadata: {},
          postings: [
            { accountId: resident!.id, asset: 'POINTS', side: 'D', amount: new Decimal(30) },
            { accountId: museum!.id, asset: 'POINTS', side: 'C', amount: new Decimal(30) },
          ],
        },
      ])
      .then(() => 'accepted', databaseErrorOf);
    expect(refused).toMatchObject({ sqlState: 'CL003' });
    expect(await status(h.id)).toBe('pending');
  });

  it('the balance as of a moment after the expiry no longer counts the hold', async () => {
    const pavel = `p${randomUUID().slice(0, 8)}`;
    await grant(pavel, '40');
    const h = await hold(pavel, '40', 4000);
    const during = new Date().toISOString();
    await until(h.expiresAt);
    const after = new Date().toISOString();
    const asOf = async (at: string) =>
      (await t.http.get(`/v1/ledger/accounts/resident:${pavel}/balance`).query({ asOf: at }).set(t.admin).expect(200)).body;
    expect(await asOf(during)).toMatchObject({ available: '0', pendingOut: '40' });
    expect(await asOf(after)).toMatchObject({ available: '40', pendingOut: '0' });
  });
});
