import { randomUUID } from 'node:crypto';
import { LedgerService } from '../../src/ledger/ledger.service';
import { startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { waitFor } from '../support/wait';
import { failedChecks, idempotencyKey, reconcile } from './support';

/**
 * Races, each repeated for several rounds: many clients at once on one balance, one code, one
 * item's stock, one resident's limit, one earn event, one hold, one idempotency key. Whatever
 * the interleaving, exactly the allowed number win, the losers get the documented refusal, and
 * the books stay balanced (checked after every round; a reconciliation at the end).
 */
const ROUNDS = 4;

describe('races', () => {
  let t: TestApp;
  let sourceKey: Record<string, string>;
  let partnerKey: Record<string, string>;
  let invariantsChecked = 0;
  let requestsRaced = 0;

  beforeAll(async () => {
    t = await startTestApp({ DATABASE_POOL_SIZE: '20', PARTNER_CODE_RATE_PER_MINUTE: '100000' });
    await t.http.post('/v1/admin/sources').set(t.admin).send({ id: 'votes', name: 'Votes' }).expect(201);
    await t.http
      .post('/v1/admin/earning-rules')
      .set(t.admin)
      .send({ id: 'vote', sourceId: 'votes', eventType: 'vote.cast', points: '20' })
      .expect(201);
    sourceKey = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 's', role: 'source', sourceId: 'votes' }).expect(201)
      ).body.apiKey,
    };
    for (const [id, kind] of [
      ['cafe', 'cafe'],
      ['fund', 'charity'],
    ]) {
      await t.http.post('/v1/admin/partners').set(t.admin).send({ id, name: id, kind }).expect(201);
    }
    partnerKey = {
      'X-API-Key': (
        await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'p', role: 'partner', partnerId: 'cafe' }).expect(201)
      ).body.apiKey,
    };
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'gift', kind: 'DONATION', title: 'Gift', partnerId: 'fund', minPoints: '1', maxPoints: '1000' })
      .expect(201);
  });

  afterEach(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    invariantsChecked += 5;
  });

  afterAll(async () => {
    const report = await reconcile(t);
    expect(failedChecks(report)).toEqual([]);
    invariantsChecked += report.checks.length;

    console.log(`races: ${requestsRaced} concurrent requests in ${ROUNDS} rounds per race; ${invariantsChecked} invariant checks passed`);
    await t.close();
  });

  let n = 0;
  const resident = () => `r${++n}x${randomUUID().slice(0, 6)}`;
  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  const available = async (residentId: string) =>
    (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body.available as string;
  const item = (body: object) =>
    t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ kind: 'PROMO_CODE', partnerId: 'cafe', title: 'x', ...body })
      .expect(201);
  const redeem = (residentId: string, body: object, key = idempotencyKey()) =>
    t.http.post('/v1/me/redemptions').set(t.residentAuth(residentId)).set(key).send(body);
  const all = async <T>(work: Promise<T>[]) => {
    requestsRaced += work.length;
    return Promise.all(work);
  };

  it('double spend of one balance through every door at once: redemptions, donations, transfers, negative adjustments', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const id = `spend-${round}`;
      await item({ id, pricePoints: '30', codeSource: 'GENERATED' });
      const vera = resident();
      await grant(vera, '100');
      const doors = Array.from({ length: 24 }, (_, i) => {
        switch (i % 4) {
          case 0:
            return redeem(vera, { itemId: id });
          case 1:
            return t.http.post('/v1/me/donations').set(t.residentAuth(vera)).set(idempotencyKey()).send({ itemId: 'gift', amount: '30' });
          case 2:
            return t.http
              .post('/v1/ledger/transactions')
              .set(t.admin)
              .set(idempotencyKey())
              .send({
                type: 'transfer',
                postings: [
                  { account: `resident:${vera}`, asset: 'POINTS', debit: '30' },
                  { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '30' },
                ],
              });
          default:
            return t.http
              .post('/v1/admin/adjustments')
              .set(t.admin)
              .set(idempotencyKey())
              .send({ residentId: vera, amount: '-30', reason: 'race' });
        }
      });
      const answers = await all(doors);
      const won = answers.filter((a) => a.status === 201);
      expect(won).toHaveLength(3); // 3 × 30 of 100
      expect(answers.filter((a) => a.status !== 201).every((a) => a.status === 409 && a.body.code === 'insufficient_points')).toBe(true);
      expect(await available(vera)).toBe('10');
    }
  });

  it('one code redeemed by many tills while its resident cancels: exactly one of them wins', async () => {
    await item({ id: 'till', pricePoints: '10', codeSource: 'GENERATED' });
    const outcomes = { redeemed: 0, cancelled: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const gleb = resident();
      await grant(gleb, '10');
      const r = await redeem(gleb, { itemId: 'till' }).expect(201);
      const code = r.body.codes[0].code;
      const answers = await all([
        ...Array.from({ length: 20 }, () => t.http.post(`/v1/partner/codes/${code}/redeem`).set(partnerKey)),
        ...Array.from({ length: 4 }, () => t.http.post(`/v1/me/redemptions/${r.body.id}/cancel`).set(t.residentAuth(gleb))),
      ]);
      const tills = answers.slice(0, 20);
      const cancels = answers.slice(20);
      const wins = answers.filter((a) => a.status === 200);
      expect(wins).toHaveLength(1);
      expect(
        tills
          .filter((a) => a.status !== 200)
          .every((a) => a.status === 409 && ['code_already_redeemed', 'invalid_state'].includes(a.body.code)),
      ).toBe(true);
      expect(cancels.filter((a) => a.status !== 200).every((a) => a.status === 409 && a.body.code === 'invalid_state')).toBe(true);
      const status = (await t.http.get(`/v1/partner/codes/${code}`).set(partnerKey).expect(200)).body.status;
      if (tills.some((a) => a.status === 200)) {
        outcomes.redeemed++;
        expect(status).toBe('redeemed');
        expect(await available(gleb)).toBe('0');
      } else {
        outcomes.cancelled++;
        expect(status).toBe('cancelled');
        expect(await available(gleb)).toBe('10');
      }
    }
    expect(outcomes.redeemed + outcomes.cancelled).toBe(ROUNDS);
  });

  it('stock and per-resident limits under mixed quantities from many residents and one greedy resident', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const id = `stock-${round}`;
      await item({
        id,
        pricePoints: '5',
        codeSource: round % 2 ? 'POOL' : 'GENERATED',
        perResidentLimit: 3,
        ...(round % 2 ? {} : { stock: 12 }),
      });
      if (round % 2)
        await t.http
          .post(`/v1/admin/items/${id}/codes`)
          .set(t.admin)
          .send({ codes: Array.from({ length: 12 }, (_, i) => `${id}-C${i}`) })
          .expect(200);
      const residents = Array.from({ length: 8 }, resident);
      for (const r of residents) await grant(r, '100');
      const greedy = residents[0];
      const who = [...residents.slice(1).flatMap((r) => [r, r]), ...Array(8).fill(greedy)];
      const answers = await all(who.map((r, i) => redeem(r, { itemId: id, quantity: r === greedy ? 1 + (i % 2) : 2 - (i % 2) })));
      const ok = answers.filter((a) => a.status === 201);
      const sold = ok.reduce((sum, a) => sum + a.body.quantity, 0);
      expect(sold).toBeLessThanOrEqual(12);
      expect(
        answers.filter((a) => a.status !== 201).every((a) => a.status === 409 && ['out_of_stock', 'limit_exceeded'].includes(a.body.code)),
      ).toBe(true);
      const codes = ok.flatMap((a) => a.body.codes.map((c: { code: string }) => c.code));
      expect(new Set(codes).size).toBe(sold);
      // each resident within the limit, and charged exactly for what they got
      for (const r of residents) {
        const got = answers.filter((a, i) => who[i] === r && a.status === 201).reduce((sum, a) => sum + a.body.quantity, 0);
        expect(got).toBeLessThanOrEqual(3);
        expect(await available(r)).toBe(String(100 - 5 * got));
      }
      // a pool is sold as its codes are issued; generated stock counts `sold`
      const row = await t.prisma.catalogueItem.findUniqueOrThrow({ where: { id } });
      const issued = await t.prisma.itemCode.count({ where: { itemId: id, status: 'issued' } });
      expect(round % 2 ? issued : row.sold).toBe(sold);
      // more demand (7 × 3 + 3 = 24) than stock (12): it sells out unless limits refused the rest
      expect(sold === 12 || answers.every((a) => a.status === 201 || a.body.code === 'limit_exceeded')).toBe(true);
    }
  });

  it('confirm, reject and revoke racing on one earn event: the transitions happen in order, once each', async () => {
    const seen: Record<string, number> = {};
    for (let round = 0; round < ROUNDS * 2; round++) {
      const lena = resident();
      const externalId = `race-ev-${round}-${lena}`;
      await t.http
        .post('/v1/earn-events')
        .set(sourceKey)
        .send({
          events: [
            { externalId, type: 'vote.cast', residentId: lena, occurredAt: new Date(Date.now() - 60_000).toISOString(), status: 'pending' },
          ],
        })
        .expect(202);
      await waitFor(
        async () => (await t.http.get(`/v1/earn-events/${externalId}`).set(sourceKey).expect(200)).body.status === 'pending',
        20_000,
        'the event to be pending',
      );
      const verbs = Array.from({ length: 18 }, (_, i) => ['confirm', 'reject', 'revoke'][i % 3]);
      const answers = await all(verbs.map((verb) => t.http.post(`/v1/earn-events/${externalId}/${verb}`).set(sourceKey)));
      const won = (verb: string) => answers.filter((a, i) => verbs[i] === verb && a.status === 200).length;
      expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 409 && a.body.code === 'invalid_state')).toBe(true);
      // from pending exactly one of confirm and reject; revoke only after a confirm
      expect(won('confirm') + won('reject')).toBe(1);
      expect(won('revoke')).toBeLessThanOrEqual(won('confirm'));
      const final = (await t.http.get(`/v1/earn-events/${externalId}`).set(sourceKey).expect(200)).body.status;
      expect(final).toBe(won('reject') ? 'rejected' : won('revoke') ? 'revoked' : 'posted');
      seen[final] = (seen[final] ?? 0) + 1;
      const balance = (await t.http.get('/v1/me/balance').set(t.residentAuth(lena)).expect(200)).body;
      expect(balance).toMatchObject({ available: final === 'posted' ? '20' : '0', pending: '0', debt: '0' });
      const earns = await t.prisma.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM ledger_transactions WHERE metadata->>'externalId' = $1 AND kind <> 'void' AND reverses_id IS NULL AND pending_id IS NULL`,
        externalId,
      );
      expect(earns[0].n).toBeLessThanOrEqual(1);
    }
    expect(Object.values(seen).reduce((a, b) => a + b, 0)).toBe(ROUNDS * 2);
  });

  it('partial posts of different amounts, voids and the expiry sweeper racing for one hold: one settles it, for its own amount', async () => {
    const ledger = t.app.get(LedgerService);
    for (let round = 0; round < ROUNDS; round++) {
      const oleg = resident();
      await grant(oleg, '100');
      const hold = await t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set(idempotencyKey())
        .send({
          type: 'transfer',
          pending: true,
          expiresAt: new Date(Date.now() + 3600_000).toISOString(),
          postings: [
            { account: `resident:${oleg}`, asset: 'POINTS', debit: '60' },
            { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '60' },
          ],
        })
        .expect(201);
      const amounts = ['10', '20', '30', '60', undefined];
      const requests = Array.from({ length: 15 }, (_, i) =>
        i % 3 === 2
          ? t.http.post(`/v1/ledger/transactions/${hold.body.id}/void`).set(t.admin).send({})
          : t.http
              .post(`/v1/ledger/transactions/${hold.body.id}/post`)
              .set(t.admin)
              .send(amounts[i % 5] ? { amount: amounts[i % 5] } : {}),
      );
      requestsRaced += 2;
      const [answers, expired] = await Promise.all([
        all(requests),
        Promise.all([0, 1].map(() => ledger.expireHolds(new Date(Date.now() + 7200_000)))),
      ]);
      const winners = answers.map((a, i) => ({ a, i })).filter(({ a }) => a.status === 200);
      expect(winners.length + expired.reduce((s, x) => s + x, 0)).toBe(1);
      expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 409 && a.body.code === 'invalid_state')).toBe(true);
      const settled = winners[0] && winners[0].i % 3 !== 2 ? Number(amounts[winners[0].i % 5] ?? '60') : 0;
      const balance = (await t.http.get(`/v1/ledger/accounts/resident:${oleg}/balance`).set(t.admin).expect(200)).body;
      expect(balance).toMatchObject({ posted: String(100 - settled), available: String(100 - settled) });
    }
  });

  it('one idempotency key from many clients at once: one effect, one answer for all; another body is a conflict', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const id = `idem-${round}`;
      await item({ id, pricePoints: '10', codeSource: 'GENERATED', stock: 100 });
      const pavel = resident();
      await grant(pavel, '100');
      const key = idempotencyKey();
      const same = await all(Array.from({ length: 16 }, () => redeem(pavel, { itemId: id, quantity: 2 }, key)));
      const different = await all(Array.from({ length: 4 }, () => redeem(pavel, { itemId: id, quantity: 3 }, key)));
      expect(same.map((a) => a.status)).toEqual(Array(16).fill(201));
      // the same JSON value for everyone (a replay comes from jsonb, so its keys may come in another order)
      for (const a of same) expect(a.body).toEqual(same[0].body);
      expect(different.every((a) => a.status === 409 && a.body.code === 'idempotency_conflict')).toBe(true);
      expect(await available(pavel)).toBe('80');
      expect(await t.prisma.redemption.count({ where: { residentId: pavel } })).toBe(1);

      // the same for a money move by an admin: a negative adjustment, with its refusal replayed too
      const adjKey = idempotencyKey();
      const adjustments = await all(
        Array.from({ length: 12 }, () =>
          t.http.post('/v1/admin/adjustments').set(t.admin).set(adjKey).send({ residentId: pavel, amount: '-50', reason: 'race' }),
        ),
      );
      expect(adjustments.map((a) => a.status)).toEqual(Array(12).fill(201));
      expect(new Set(adjustments.map((a) => a.body.id)).size).toBe(1);
      expect(await available(pavel)).toBe('30');
      const refusalKey = idempotencyKey();
      const refusals = await all(
        Array.from({ length: 8 }, () =>
          t.http.post('/v1/admin/adjustments').set(t.admin).set(refusalKey).send({ residentId: pavel, amount: '-31', reason: 'race' }),
        ),
      );
      expect(refusals.every((a) => a.status === 409 && a.body.code === 'insufficient_points')).toBe(true);
      expect(await available(pavel)).toBe('30');
    }
  });
});
