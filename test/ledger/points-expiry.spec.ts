import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { expiryOf } from '../../src/ledger/domain/expiry';
import { LedgerService } from '../../src/ledger/ledger.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { ledgerViolations, lotViolations } from '../support/ledger-invariants';
import { waitFor } from '../support/wait';

/** Points expiry (API.md "Points expiry"): lots, the expiry run, the policy, what residents see. */
describe('points expiry', () => {
  let t: TestApp;
  let ledger: LedgerService;
  let source: Record<string, string>;

  beforeAll(async () => {
    t = await startTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true' });
    ledger = t.app.get(LedgerService);
    // the tests say when the expiry run runs (they check what is recorded before and after it)
    t.app.get(SchedulerRegistry).deleteInterval('lot-expiry');
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'lotshop', name: 'Lot shop', kind: 'shop' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'lot-120', kind: 'PROMO_CODE', title: 'Tickets', partnerId: 'lotshop', pricePoints: '120', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'lot-10', kind: 'PROMO_CODE', title: 'Coffee', partnerId: 'lotshop', pricePoints: '10', codeSource: 'GENERATED' })
      .expect(201);
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'lotsrc', name: 'Lots' }).expect(201);
    source = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'lotsrc', role: 'source', sourceId: 'lotsrc' }).expect(201)
      ).body.apiKey,
    };
    const rule = (body: object) =>
      t.http
        .post('/v1/admin/earning-rules')
        .set(t.admin)
        .send({ sourceId: 'lotsrc', ...body })
        .expect(201);
    await rule({ id: 'lot-plain', eventType: 'lot.plain', points: '100' });
    await rule({ id: 'lot-30d', eventType: 'lot.thirty', points: '40', expiresAfterDays: 30 });
    await rule({ id: 'lot-confirm', eventType: 'lot.confirm', points: '25', requiresConfirmation: true, expiresAfterDays: 10 });
  });

  afterAll(async () => {
    await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  const resident = () => `x${randomUUID().slice(0, 8)}`;
  const key = () => ({ 'Idempotency-Key': randomUUID() });
  const adjust = (residentId: string, amount: string, expiresAt?: Date) =>
    t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set(key())
      .send({ residentId, amount, reason: 'expiry test', ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) });
  const balance = async (residentId: string) => (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body;
  const redeem = (residentId: string, itemId: string) =>
    t.http.post('/v1/me/redemptions').set(t.residentAuth(residentId)).set(key()).send({ itemId });
  const policy = async () => (await t.http.get('/v1/admin/expiry-policy').set(t.admin).expect(200)).body;
  const earn = async (residentId: string, type: string) => {
    const externalId = randomUUID();
    await t.http
      .post('/v1/earn-events')
      .set(source)
      .send({ events: [{ externalId, type, residentId, occurredAt: new Date().toISOString() }] })
      .expect(202);
    return waitFor(
      async () => {
        const e = (await t.http.get(`/v1/earn-events/${externalId}`).set(source).expect(200)).body;
        return ['posted', 'pending'].includes(e.status) ? e : undefined;
      },
      20_000,
      `event ${externalId}`,
    );
  };
  /** Moves a resident's lots' expiry into the past, as time passing would. */
  const age = async (residentId: string) => {
    await t.prisma.$executeRaw`
      UPDATE ledger_lots l SET expires_at = now() - interval '1 second'
      FROM ledger_accounts a WHERE a.id = l.account_id AND a.code = ${`resident:${residentId}`} AND l.expires_at IS NOT NULL`;
    await t.prisma.$executeRaw`
      UPDATE account_balances b SET next_expiry = (SELECT min(l.expires_at) FROM ledger_lots l WHERE l.account_id = b.account_id AND l.remaining > 0)
      FROM ledger_accounts a WHERE a.id = b.account_id AND a.code = ${`resident:${residentId}`}`;
  };
  const expiries = async (residentId: string) =>
    t.prisma.$queryRaw<{ amount: string }[]>`
      SELECT p.amount::text FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
      JOIN ledger_accounts a ON a.id = p.account_id WHERE t.type = 'expiry' AND a.code = ${`resident:${residentId}`} ORDER BY p.id`;

  describe('the policy', () => {
    it('is off by default and is set by an admin', async () => {
      expect(await policy()).toEqual({ afterDays: null, roundUpTo: 'day', noticeDays: 0 });
      const set = await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: 365, roundUpTo: 'month_end', noticeDays: 14 });
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ afterDays: 365, roundUpTo: 'month_end', noticeDays: 14 });
      expect(await policy()).toEqual({ afterDays: 365, roundUpTo: 'month_end', noticeDays: 14 });
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
      expect(await policy()).toEqual({ afterDays: null, roundUpTo: 'day', noticeDays: 0 });
    });

    it('refuses negative, absurd or malformed days and changes nothing', async () => {
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: 90, noticeDays: 7 }).expect(200);
      for (const body of [
        { afterDays: -1 },
        { afterDays: 0 },
        { afterDays: 1_000_000 },
        { afterDays: 1.5 },
        { afterDays: '30' },
        { afterDays: 30, noticeDays: -3 },
        { afterDays: 30, noticeDays: 99_999 },
        { afterDays: 30, roundUpTo: 'year_end' },
        {},
      ]) {
        expectProblem(await t.http.put('/v1/admin/expiry-policy').set(t.admin).send(body), 400, 'validation_failed');
      }
      expect(await policy()).toEqual({ afterDays: 90, roundUpTo: 'day', noticeDays: 7 });
      expectProblem(await t.http.put('/v1/admin/expiry-policy').send({ afterDays: 1 }), 401, 'unauthorized');
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
    });

    it('applies to points credited afterwards, never to points already held', async () => {
      const vera = resident();
      await adjust(vera, '10').expect(201);
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: 365, roundUpTo: 'month_end' }).expect(200);
      const before = Date.now();
      await adjust(vera, '20').expect(201);
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
      const expiring = (await t.http.get('/v1/me/expiring').set(t.residentAuth(vera)).expect(200)).body;
      expect(expiring).toEqual({ items: [{ amount: '20', expiresAt: expiryOf(new Date(before), 365, 'month_end')!.toISOString() }] });
      expect(await balance(vera)).toMatchObject({ available: '30' });
    });
  });

  it('an adjustment with an expiresAt in the past, or on a negative amount, is refused and changes nothing', async () => {
    const olga = resident();
    expectProblem(await adjust(olga, '50', new Date(Date.now() - 1000)), 400, 'validation_failed');
    expectProblem(
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set(key())
        .send({ residentId: olga, amount: '50', reason: 'x y z', expiresAt: 'soon' }),
      400,
      'validation_failed',
    );
    await adjust(olga, '5').expect(201);
    expectProblem(await adjust(olga, '-5', new Date(Date.now() + 86_400_000)), 400, 'validation_failed');
    expect(await balance(olga)).toEqual({ residentId: olga, available: '5', pending: '0', debt: '0', expiring: [] });
    const [lots] = await t.prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM ledger_lots l JOIN ledger_accounts a ON a.id = l.account_id WHERE a.code = ${`resident:${olga}`}`;
    expect(lots.n).toBe(1);
  });

  it('the worked example: earn 100 expiring, 50 without; redeem 120; the date passes; a refund; the run', async () => {
    const anna = resident();
    const march = new Date(Date.now() + 2500);
    await adjust(anna, '100', march).expect(201);
    await adjust(anna, '50').expect(201);
    expect(await balance(anna)).toEqual({
      residentId: anna,
      available: '150',
      pending: '0',
      debt: '0',
      expiring: [{ amount: '100', expiresAt: march.toISOString() }],
    });
    const bought = await redeem(anna, 'lot-120').expect(201);
    expect(bought.body.balanceAfter).toBe('30');
    // the 120 came from the lot that expires first (100), then 20 of the lot without expiry
    expect((await balance(anna)).expiring).toEqual([]);
    await waitFor(async () => Date.now() > march.getTime() + 50, 5000, 'the date to pass');
    // the refund gives the points back to the lots they came from: 100 to the expired one, which
    // no longer counts, and 20 to the other
    await t.http.post(`/v1/me/redemptions/${bought.body.id}/cancel`).set(t.residentAuth(anna)).expect(200);
    expect(await balance(anna)).toMatchObject({ available: '50', expiring: [] });
    expect(await expiries(anna)).toEqual([]);
    // a spend never uses an expired point: 60 is more than the 50 that count
    expectProblem(
      await t.http.post('/v1/me/redemptions').set(t.residentAuth(anna)).set(key()).send({ itemId: 'lot-120' }),
      409,
      'insufficient_points',
    );
    await ledger.expireLots();
    expect(await expiries(anna)).toEqual([{ amount: '100' }]);
    await ledger.expireLots();
    expect(await expiries(anna)).toEqual([{ amount: '100' }]);
    expect(await balance(anna)).toMatchObject({ available: '50' });
    const history = (await t.http.get('/v1/me/history').set(t.residentAuth(anna)).expect(200)).body.items;
    expect(history[0]).toMatchObject({ type: 'expiry', amount: '-100', balanceAfter: '50' });
    expect(await lotViolations(t.prisma)).toEqual([]);
  });

  it('a spend records the expiry of the expired lots it passes, before it spends the rest', async () => {
    const boris = resident();
    await adjust(boris, '30', new Date(Date.now() + 60_000)).expect(201);
    await adjust(boris, '15').expect(201);
    await age(boris);
    expect(await balance(boris)).toMatchObject({ available: '15' });
    await redeem(boris, 'lot-10').expect(201);
    expect(await expiries(boris)).toEqual([{ amount: '30' }]);
    expect(await balance(boris)).toMatchObject({ available: '5' });
  });

  it('/v1/me/balance shows the next 3 dates, /v1/me/expiring all of them, soonest first', async () => {
    const dina = resident();
    const days = [40, 10, 30, 20].map((d) => new Date(Date.now() + d * 86_400_000));
    for (const [i, at] of days.entries()) await adjust(dina, String(10 * (i + 1)), at).expect(201);
    await adjust(dina, '7').expect(201);
    await adjust(dina, '5', days[1]).expect(201);
    const sorted = [
      { amount: '25', expiresAt: days[1].toISOString() },
      { amount: '40', expiresAt: days[3].toISOString() },
      { amount: '30', expiresAt: days[2].toISOString() },
      { amount: '10', expiresAt: days[0].toISOString() },
    ];
    expect(await balance(dina)).toEqual({ residentId: dina, available: '112', pending: '0', debt: '0', expiring: sorted.slice(0, 3) });
    expect((await t.http.get('/v1/me/expiring').set(t.residentAuth(dina)).expect(200)).body).toEqual({ items: sorted });
    expectProblem(await t.http.get('/v1/me/expiring'), 401, 'unauthorized');
  });

  describe('earning', () => {
    it('an accrual expires as its rule says, else as the policy says; a pending one gets its expiry when confirmed', async () => {
      const egor = resident();
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: 365, roundUpTo: 'month_end' }).expect(200);
      const at = new Date();
      await earn(egor, 'lot.thirty');
      await earn(egor, 'lot.plain');
      const pending = await earn(egor, 'lot.confirm');
      expect(pending.status).toBe('pending');
      const items = (await t.http.get('/v1/me/expiring').set(t.residentAuth(egor)).expect(200)).body.items;
      expect(items).toEqual([
        { amount: '40', expiresAt: expiryOf(at, 30, 'month_end')!.toISOString() },
        { amount: '100', expiresAt: expiryOf(at, 365, 'month_end')!.toISOString() },
      ]);
      await t.http.post(`/v1/earn-events/${pending.externalId}/confirm`).set(source).expect(200);
      const after = (await t.http.get('/v1/me/expiring').set(t.residentAuth(egor)).expect(200)).body.items;
      expect(after[0]).toEqual({ amount: '25', expiresAt: expiryOf(new Date(), 10, 'month_end')!.toISOString() });
      await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
    });

    it('rules and campaigns refuse an absurd expiresAfterDays', async () => {
      for (const expiresAfterDays of [-1, 0, 100_000, 2.5]) {
        expectProblem(
          await t.http
            .post('/v1/admin/earning-rules')
            .set(t.admin)
            .send({ id: `bad-${randomUUID().slice(0, 6)}`, sourceId: 'lotsrc', eventType: 'x.y', points: '1', expiresAfterDays }),
          400,
          'validation_failed',
        );
      }
      const campaign = await t.http.post('/v1/admin/campaigns').set(t.admin).send({
        id: 'lot-campaign',
        name: 'Short-lived bonus',
        multiplier: '1',
        validFrom: '2020-01-01T00:00:00Z',
        validTo: '2020-02-01T00:00:00Z',
        expiresAfterDays: 7,
      });
      expect(campaign.status).toBe(201);
      expect(campaign.body.expiresAfterDays).toBe(7);
    });

    it('revoking an accrual whose lot expired takes nothing more and records no debt for the expired part', async () => {
      const fedor = resident();
      const e = await earn(fedor, 'lot.thirty');
      await redeem(fedor, 'lot-10').expect(201);
      await age(fedor);
      await ledger.expireLots();
      expect(await expiries(fedor)).toEqual([{ amount: '30' }]);
      await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(source).expect(200);
      // 30 expired (no debt for it); the 10 spent becomes debt, as with any revoked accrual
      expect(await balance(fedor)).toMatchObject({ available: '0', debt: '10' });

      const gleb = resident();
      const g = await earn(gleb, 'lot.thirty');
      await age(gleb);
      await t.http.post(`/v1/earn-events/${g.externalId}/revoke`).set(source).expect(200);
      expect(await balance(gleb)).toMatchObject({ available: '0', debt: '0' });
    });

    it('a revocation takes from its own lot first', async () => {
      const hana = resident();
      await adjust(hana, '50', new Date(Date.now() + 86_400_000)).expect(201);
      const e = await earn(hana, 'lot.plain');
      await t.http.post(`/v1/earn-events/${e.externalId}/revoke`).set(source).expect(200);
      // the 100 came back from the accrual's own lot (no expiry), not from the one expiring first
      expect(await balance(hana)).toMatchObject({ available: '50', expiring: [{ amount: '50' }] });
    });
  });

  it('spends racing the expiry run never spend an expired point nor expire a spent one', async () => {
    const residents = Array.from({ length: 6 }, resident);
    // far more points than the spends can take before the expiry: each resident has spent some
    // and has some expired, and spends go on being tried past the moment, while the runs expire
    const granted = 100_000;
    const at = new Date(Date.now() + 2000);
    await Promise.all(residents.map((r) => adjust(r, String(granted), at).expect(201)));
    const deadline = at.getTime() + 700;
    const after = { tried: 0, answered201: 0 };
    const spenders = residents.map(async (r) => {
      while (Date.now() < deadline) {
        const sent = Date.now();
        const res = await redeem(r, 'lot-10');
        // sent after the moment: the points had expired, whether or not the run had recorded it
        if (sent > at.getTime() + 50) {
          after.tried++;
          if (res.status === 201) after.answered201++;
        }
      }
    });
    const runs = [0, 1, 2].map(async () => {
      while (Date.now() < deadline + 300) await ledger.expireLots(new Date(), 2);
    });
    await Promise.all([...spenders, ...runs]);
    await ledger.expireLots();
    expect(after.tried).toBeGreaterThan(0);
    expect(after.answered201).toBe(0);
    const moves = await t.prisma.$queryRaw<{ late_spends: number; early_expiries: number; not_whole: number }[]>`
      SELECT count(*) FILTER (WHERE t.type <> 'expiry' AND m.amount > 0 AND m.created_at >= l.expires_at)::int AS late_spends,
             count(*) FILTER (WHERE t.type = 'expiry' AND m.created_at < l.expires_at)::int AS early_expiries,
             (SELECT count(*) FROM ledger_lots l2 JOIN ledger_accounts a2 ON a2.id = l2.account_id
              WHERE a2.code = ANY (${residents.map((r) => `resident:${r}`)}::text[]) AND l2.remaining <> 0)::int AS not_whole
      FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id JOIN ledger_transactions t ON t.id = m.transaction_id
      JOIN ledger_accounts a ON a.id = l.account_id WHERE a.code = ANY (${residents.map((r) => `resident:${r}`)}::text[])`;
    expect(moves[0]).toEqual({ late_spends: 0, early_expiries: 0, not_whole: 0 });
    for (const r of residents) {
      const spent = (await t.prisma.redemption.count({ where: { residentId: r, status: 'completed' } })) * 10;
      const expired = (await expiries(r)).reduce((sum, e) => sum + Number(e.amount), 0);
      expect({ r, spent: spent > 0, expired: expired > 0, total: spent + expired, expiries: (await expiries(r)).length }).toEqual({
        r,
        spent: true,
        expired: true,
        total: granted,
        expiries: 1,
      });
    }
    expect(await lotViolations(t.prisma)).toEqual([]);
  }, 60_000);

  describe('the liability', () => {
    const liability = async (asOf?: Date) =>
      (
        await t.http
          .get(`/v1/audit/liability${asOf ? `?asOf=${asOf.toISOString()}` : ''}`)
          .set(t.admin)
          .expect(200)
      ).body;
    const n = (v: string) => Number(v);

    it('moves with what residents earn, redeem and lose to expiry, and answers the same for a past moment later', async () => {
      const before = await liability();
      const kira = resident();
      const nextYear = new Date(Date.now() + 300 * 86_400_000);
      await adjust(kira, '100', nextYear).expect(201);
      await adjust(kira, '50').expect(201);
      await redeem(kira, 'lot-120').expect(201);
      const middle = new Date();
      const atMiddle = await liability();
      expect(n(atMiddle.issued) - n(before.issued)).toBe(150);
      expect(n(atMiddle.redeemed) - n(before.redeemed)).toBe(120);
      expect(n(atMiddle.outstanding) - n(before.outstanding)).toBe(30);
      expect(n(atMiddle.withoutExpiry) - n(before.withoutExpiry)).toBe(30);
      await age(kira);
      await adjust(kira, '40', nextYear).expect(201);
      await ledger.expireLots();
      const after = await liability();
      expect(n(after.expired) - n(before.expired)).toBe(0); // the 100-lot had been spent: nothing left to expire
      expect(after.byExpiryMonth).toEqual(
        expect.arrayContaining([{ month: expect.stringMatching(/^\d{4}-\d{2}$/), amount: expect.any(String) }]),
      );
      // the past does not change
      expect(await liability(new Date(middle.getTime()))).toEqual({ ...atMiddle, asOf: middle.toISOString() });
      // rates are decimal strings: redeemed ÷ issued, expired ÷ issued
      expect(after.redemptionRate).toBe((n(after.redeemed) / n(after.issued)).toFixed(4));
      expect(after.breakageRate).toBe((n(after.expired) / n(after.issued)).toFixed(4));
    });

    it('counts breakage and the outstanding by month of expiry', async () => {
      const before = await liability();
      const lena = resident();
      const inFiveDays = new Date(Date.now() + 5 * 86_400_000);
      await adjust(lena, '70', inFiveDays).expect(201);
      const month = new Date(inFiveDays.getTime() + 3 * 3_600_000 - 1).toISOString().slice(0, 7);
      const mid = await liability();
      const amountIn = (l: { byExpiryMonth: { month: string; amount: string }[] }) =>
        n(l.byExpiryMonth.find((m) => m.month === month)?.amount ?? '0');
      expect(amountIn(mid) - amountIn(before)).toBe(70);
      await age(lena);
      await ledger.expireLots();
      const after = await liability();
      expect(n(after.expired) - n(before.expired)).toBe(70);
      expect(n(after.outstanding) - n(before.outstanding)).toBe(0);
      expectProblem(await t.http.get('/v1/audit/liability?asOf=yesterday').set(t.admin), 400, 'validation_failed');
      expectProblem(await t.http.get('/v1/audit/liability'), 401, 'unauthorized');
    });
  });

  it('points.expiring once per resident and date, noticeDays before; points.expired when recorded', async () => {
    await t.http
      .post('/v1/admin/webhooks')
      .set(t.admin)
      .send({ url: 'http://127.0.0.1:9/hooks', events: ['points.expiring', 'points.expired'] })
      .expect(201);
    await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null, noticeDays: 14 }).expect(200);
    const ivan = resident();
    const soon = new Date(Date.now() + 10 * 86_400_000);
    await adjust(ivan, '70', soon).expect(201);
    await adjust(ivan, '5', new Date(Date.now() + 40 * 86_400_000)).expect(201);
    await ledger.sendExpiryNotices();
    await ledger.sendExpiryNotices();
    // the outbox's staged rows become events after commit (the drain expands them)
    const events = (type: string) =>
      waitFor(
        async () => {
          const found = await t.prisma.webhookEvent.findMany({ where: { type, residentId: ivan } });
          return found.length > 0 && (await t.prisma.webhookOutbox.count()) === 0 && found;
        },
        10_000,
        `${type} events`,
      );
    const expiring = await events('points.expiring');
    expect(expiring.map((e) => e.data)).toEqual([{ residentId: ivan, points: '70', expiresAt: soon.toISOString(), noticeDays: 14 }]);
    await age(ivan);
    await ledger.expireLots();
    const expired = await events('points.expired');
    expect(expired.map((e) => e.data)).toEqual([
      { residentId: ivan, points: '75', expiredAt: expect.any(String), transactionId: expect.any(String) },
    ]);
    await t.http.put('/v1/admin/expiry-policy').set(t.admin).send({ afterDays: null }).expect(200);
  });
});
