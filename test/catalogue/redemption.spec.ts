import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { waitUntilBlockedBy } from '../support/locks';
import { RedemptionRepository } from '../../src/redemption/redemption.repository';
import { RedemptionDto } from '../../src/redemption/dto/redemption.dto';
import { RedemptionService } from '../../src/redemption/redemption.service';

/** Residents spend points; partners honour what was bought. */
describe('catalogue, redemption and partners', () => {
  let t: TestApp;
  const partnerKeys: Record<string, { 'X-API-Key': string }> = {};

  beforeAll(async () => {
    t = await startTestApp();
    for (const [id, kind] of [
      ['cafe', 'cafe'],
      ['museum', 'museum'],
      ['fund', 'charity'],
      ['other', 'shop'],
    ]) {
      await t.http.post('/v1/admin/partners').set(t.admin).send({ id, name: id, kind }).expect(201);
      const key = await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: id, role: 'partner', partnerId: id }).expect(201);
      partnerKeys[id] = { 'X-API-Key': key.body.apiKey };
    }
  });

  afterAll(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  });

  let n = 0;
  const itemId = (prefix: string) => `${prefix}-${++n}`;
  const resident = () => `c${randomUUID().slice(0, 8)}`;
  const key = () => ({ 'Idempotency-Key': randomUUID() });
  const item = async (body: object) => (await t.http.post('/v1/admin/catalogue-items').set(t.admin).send(body).expect(201)).body;
  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  const redeem = (residentId: string, body: object, k = key()) =>
    t.http.post('/v1/me/redemptions').set(t.residentAuth(residentId)).set(k).send(body);
  const balance = async (residentId: string) =>
    (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body.available;
  const pool = async (id: string, codes: string[]) => t.http.post(`/v1/admin/items/${id}/codes`).set(t.admin).send({ codes }).expect(200);

  it('a resident redeems a promo code from a pool and sees it, the points gone', async () => {
    const id = itemId('coffee');
    await item({
      id,
      kind: 'PROMO_CODE',
      title: '20% off coffee',
      partnerId: 'cafe',
      pricePoints: '100',
      codeSource: 'POOL',
      codeValidDays: 30,
    });
    await pool(id, ['CAFE-A-0001', 'CAFE-A-0002']);
    const anna = resident();
    await grant(anna, '250');
    const res = await redeem(anna, { itemId: id }).expect(201);
    expect(res.body).toMatchObject({ itemId: id, status: 'completed', pointsSpent: '100', balanceAfter: '150', quantity: 1 });
    expect(res.body.codes).toEqual([{ code: 'CAFE-A-0001', validUntil: expect.any(String), status: 'issued' }]);
    const listed = (await t.http.get('/v1/me/redemptions').set(t.residentAuth(anna)).expect(200)).body;
    expect(listed.items.map((r: { id: string }) => r.id)).toEqual([res.body.id]);
    await t.http.get(`/v1/me/redemptions/${res.body.id}`).set(t.residentAuth(anna)).expect(200);
    expectProblem(await t.http.get(`/v1/me/redemptions/${res.body.id}`).set(t.residentAuth('someone-else')), 404, 'not_found');
    const catalogue = (await t.http.get('/v1/catalogue?limit=500').expect(200)).body;
    expect(catalogue.items.find((i: { id: string }) => i.id === id)).toMatchObject({ available: 1, pricePoints: '100' });
  });

  it('a replay with the same Idempotency-Key returns the same codes and charges once', async () => {
    const id = itemId('gen');
    await item({ id, kind: 'PROMO_CODE', title: 'Book voucher', partnerId: 'other', pricePoints: '40', codeSource: 'GENERATED' });
    const boris = resident();
    await grant(boris, '100');
    const k = key();
    const first = await redeem(boris, { itemId: id, quantity: 2 }, k).expect(201);
    const again = await redeem(boris, { itemId: id, quantity: 2 }, k).expect(201);
    expect(again.body).toEqual(first.body);
    expect(first.body.codes).toHaveLength(2);
    expect(first.body.codes[0].code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTWXY]{13}$/);
    expect(await balance(boris)).toBe('20');
    expectProblem(await redeem(boris, { itemId: id, quantity: 1 }, k), 409, 'idempotency_conflict');
  });

  it.each([
    [
      'POOL',
      (id: string) =>
        pool(
          id,
          ['S-1-0001', 'S-1-0002', 'S-1-0003', 'S-1-0004', 'S-1-0005'].map((c) => `${c}-${id}`),
        ),
    ],
    ['GENERATED with stock 5', async () => undefined],
  ])('20 residents race for an item with 5 (%s): exactly 5 succeed with 5 distinct codes', async (source, fill) => {
    const id = itemId('race');
    await item({
      id,
      kind: 'TICKET',
      title: 'Museum night',
      partnerId: 'museum',
      pricePoints: '10',
      ...(source === 'POOL' ? { codeSource: 'POOL' } : { codeSource: 'GENERATED', stock: 5 }),
    });
    await fill(id);
    const residents = Array.from({ length: 20 }, resident);
    for (const r of residents) await grant(r, '10');
    const answers = await Promise.all(residents.map((r) => redeem(r, { itemId: id })));
    const ok = answers.filter((a) => a.status === 201);
    expect(ok).toHaveLength(5);
    expect(answers.filter((a) => a.status === 409 && a.body.code === 'out_of_stock')).toHaveLength(15);
    expect(new Set(ok.map((a) => a.body.codes[0].code)).size).toBe(5);
    // the refused kept their points
    const balances = await Promise.all(residents.map(balance));
    expect(balances.filter((b) => b === '0')).toHaveLength(5);
    expect(balances.filter((b) => b === '10')).toHaveLength(15);
  });

  it('a resident with 250 points fires 10 concurrent redemptions of a 100-point item: exactly 2, balance 50', async () => {
    const id = itemId('hundred');
    await item({ id, kind: 'PROMO_CODE', title: 'Dinner', partnerId: 'cafe', pricePoints: '100', codeSource: 'GENERATED' });
    const vera = resident();
    await grant(vera, '250');
    const answers = await Promise.all(Array.from({ length: 10 }, () => redeem(vera, { itemId: id })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 409 && a.body.code === 'insufficient_points')).toHaveLength(8);
    expect(await balance(vera)).toBe('50');
    const metrics = (await t.http.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/civic_redemptions_total\{kind="redemption",outcome="insufficient_points"\} ([89]|\d\d)/);
  });

  it('perResidentLimit 1 with 5 concurrent requests of one resident: exactly 1', async () => {
    const id = itemId('once');
    await item({
      id,
      kind: 'PROMO_CODE',
      title: 'Welcome gift',
      partnerId: 'other',
      pricePoints: '1',
      codeSource: 'GENERATED',
      perResidentLimit: 1,
    });
    const gleb = resident();
    await grant(gleb, '100');
    const answers = await Promise.all(Array.from({ length: 5 }, () => redeem(gleb, { itemId: id })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.body.code === 'limit_exceeded')).toHaveLength(4);
    expect(await balance(gleb)).toBe('99');
    // another resident is not limited by gleb
    const dina = resident();
    await grant(dina, '1');
    await redeem(dina, { itemId: id }).expect(201);
  });

  describe('one statement and the general path', () => {
    // a redemption is done in one statement (catalogue_redeem) when it can, else by the service's general path
    const oneStatement = () => jest.spyOn(t.app.get(RedemptionRepository), 'redeemInOneStatement');
    afterEach(() => jest.restoreAllMocks());

    it('give the same answer and write the same journal entry', async () => {
      const id = itemId('same');
      await item({
        id,
        kind: 'TICKET',
        title: 'Zoo day',
        partnerId: 'museum',
        pricePoints: '30',
        codeSource: 'GENERATED',
        codeValidDays: 2,
        stock: 10,
        perResidentLimit: 5,
      });
      const lev = resident();
      await grant(lev, '200');
      await t.app.get(RedemptionService).redeem(lev, id, 1);
      const spy = oneStatement();
      const fast = await redeem(lev, { itemId: id, quantity: 2 }).expect(201);
      expect(await spy.mock.results[0].value).toMatchObject({ outcome: 'new', status: 201 });
      const general = await t.app.get(RedemptionService).redeem(lev, id, 2);
      const generalBody = JSON.parse(JSON.stringify(RedemptionDto.of(general, general.balanceAfter)));

      const shape = (b: Record<string, unknown>) => ({ ...b, id: 'x', transactionId: 'x', createdAt: 'x', balanceAfter: 'x', codes: 'x' });
      expect(shape(fast.body)).toEqual(shape(generalBody));
      expect(Object.keys(fast.body).sort()).toEqual(Object.keys(generalBody).sort());
      expect(fast.body.balanceAfter).toBe('110');
      expect(generalBody.balanceAfter).toBe('50');
      // the answer is what the redemption reads as afterwards, codes and times to the millisecond
      const read = (await t.http.get(`/v1/me/redemptions/${fast.body.id}`).set(t.residentAuth(lev)).expect(200)).body;
      expect({ ...fast.body, balanceAfter: undefined }).toEqual({ ...read, balanceAfter: undefined });
      expect(Date.parse(fast.body.codes[0].validUntil) - Date.parse(fast.body.createdAt)).toBe(2 * 24 * 3600_000);

      const entry = async (txId: string) => {
        const tx = (await t.http.get(`/v1/ledger/transactions/${txId}`).set(t.admin).expect(200)).body;
        return {
          type: tx.type,
          status: tx.status,
          description: tx.description,
          postings: tx.postings,
          metadata: { ...tx.metadata, redemptionId: 'x' },
        };
      };
      expect(await entry(fast.body.transactionId)).toEqual(await entry(general.transactionId));
      expect((await entry(fast.body.transactionId)).description).toBe('Zoo day × 2');
      const sold = await t.prisma.catalogueItem.findUniqueOrThrow({ where: { id } });
      expect(sold.sold).toBe(5);
      expect((await t.prisma.residentItemCount.findFirstOrThrow({ where: { residentId: lev, itemId: id } })).quantity).toBe(5);

      // refunds: cancelling either gives the same answer and the same reversal in the journal
      const cancel = async (redemptionId: string) =>
        (await t.http.post(`/v1/me/redemptions/${redemptionId}/cancel`).set(t.residentAuth(lev)).expect(200)).body;
      const fastRefund = await cancel(fast.body.id);
      const generalRefund = await cancel(general.id);
      const refundShape = (b: Record<string, unknown>) => ({ ...shape(b), cancelledAt: 'x' });
      expect(refundShape(fastRefund)).toEqual(refundShape(generalRefund));
      expect(fastRefund).toMatchObject({ status: 'cancelled', balanceAfter: '110', pointsSpent: '60' });
      expect(generalRefund).toMatchObject({ status: 'cancelled', balanceAfter: '170', pointsSpent: '60' });
      const refundOf = async (redemptionId: string) =>
        (await t.prisma.redemption.findUniqueOrThrow({ where: { id: redemptionId } })).refundTransactionId!;
      const refundEntry = async (redemptionId: string) => {
        const e = await entry(await refundOf(redemptionId));
        return { ...e, metadata: { ...e.metadata, reverses: 'x' } };
      };
      expect(await refundEntry(fast.body.id)).toEqual(await refundEntry(general.id));
      expect((await refundEntry(fast.body.id)).type).toBe('redeem.cancelled');
      expect(sold.sold - (await t.prisma.catalogueItem.findUniqueOrThrow({ where: { id } })).sold).toBe(4);
      expect((await t.prisma.residentItemCount.findFirstOrThrow({ where: { residentId: lev, itemId: id } })).quantity).toBe(1);
    });

    it('a replay of a one-statement redemption is its first answer byte for byte, even after a cancel', async () => {
      const id = itemId('bytes');
      await item({
        id,
        kind: 'PROMO_CODE',
        title: 'Scarf',
        partnerId: 'cafe',
        pricePoints: '25',
        codeSource: 'GENERATED',
        codeValidDays: 3,
      });
      const nina = resident();
      await grant(nina, '100');
      const spy = oneStatement();
      const k = key();
      const first = await redeem(nina, { itemId: id, quantity: 2 }, k).expect(201);
      expect(await spy.mock.results[0].value).toMatchObject({ outcome: 'new', status: 201 });
      const again = await redeem(nina, { itemId: id, quantity: 2 }, k).expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.text).toBe(first.text);
      await t.http.post(`/v1/me/redemptions/${first.body.id}/cancel`).set(t.residentAuth(nina)).expect(200);
      const later = await redeem(nina, { itemId: id, quantity: 2 }, k).expect(201);
      expect(later.text).toBe(first.text);
      expect(JSON.parse(later.text)).toMatchObject({ status: 'completed', cancelledAt: null, balanceAfter: '50' });
      // the general path answers the same key with the same bytes (it renders the stored redemption)
      jest.spyOn(t.app.get(RedemptionRepository), 'redeemInOneStatement').mockResolvedValue(null);
      expect((await redeem(nina, { itemId: id, quantity: 2 }, k).expect(201)).text).toBe(first.text);
    });

    it('a refusal goes the general way and is stored as the key’s answer', async () => {
      const id = itemId('refused');
      await item({ id, kind: 'PROMO_CODE', title: 'Pie', partnerId: 'cafe', pricePoints: '50', codeSource: 'GENERATED' });
      const mila = resident();
      await grant(mila, '10');
      const spy = oneStatement();
      const k = key();
      expectProblem(await redeem(mila, { itemId: id }, k), 409, 'insufficient_points');
      expect(await spy.mock.results[0].value).toBeNull();
      // the refusal is the key's answer even once the points are there
      await grant(mila, '100');
      const replay = await redeem(mila, { itemId: id }, k);
      expectProblem(replay, 409, 'insufficient_points');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await spy.mock.results[1].value).toMatchObject({ outcome: 'replay', status: 409 });
      expect(await balance(mila)).toBe('110');
      expect(await t.prisma.redemption.count({ where: { residentId: mila } })).toBe(0);
    });

    it('lock the balance rows in the ledger’s order (account id, then shard), not the resident’s first', async () => {
      const id = itemId('order');
      await item({ id, kind: 'PROMO_CODE', title: 'Tea', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' });
      const warm = resident();
      await grant(warm, '100');
      await redeem(warm, { itemId: id }).expect(201);
      const vera = resident();
      await grant(vera, '100');
      const ids = await t.prisma.$queryRaw<{ code: string; id: bigint }[]>`
        SELECT code, id FROM ledger_accounts WHERE code IN (${`resident:${vera}`}, 'partner:cafe:redeemed')`;
      const account = Object.fromEntries(ids.map((r) => [r.code, r.id]));
      // the partner is older than the resident, so its rows come first in the lock order
      expect(account['partner:cafe:redeemed'] < account[`resident:${vera}`]).toBe(true);

      const other = new Client({ connectionString: t.databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [account['partner:cafe:redeemed'].toString()]);
        const spy = oneStatement();
        const pending = redeem(vera, { itemId: id }).then((r) => r);
        // the redemption now waits for the partner's rows; it must not hold the resident's meanwhile
        await waitUntilBlockedBy(t.prisma, other, 'the redemption to wait for the partner’s rows', '%catalogue_redeem%');
        await other.query("SET LOCAL lock_timeout = '3s'");
        await other.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [account[`resident:${vera}`].toString()]);
        await other.query('COMMIT');
        const res = await pending;
        expect(res.status).toBe(201);
        expect(res.body.balanceAfter).toBe('90');
        expect(await spy.mock.results[0].value).toMatchObject({ outcome: 'new', status: 201 });
      } finally {
        await other.end();
      }
    });

    it('refuse in one statement a resident account that is not the resident’s', async () => {
      const id = itemId('mine');
      await item({ id, kind: 'PROMO_CODE', title: 'Bun', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' });
      const [rich, poor] = [resident(), resident()];
      await grant(rich, '100');
      await grant(poor, '100');
      const [richAccount] = await t.prisma.$queryRaw<{ id: bigint }[]>`SELECT id FROM ledger_accounts WHERE code = ${`resident:${rich}`}`;
      const answer = await t.app.get(RedemptionRepository).redeemInOneStatement({
        scope: `resident:${poor}`,
        key: randomUUID(),
        hash: 'h'.repeat(64),
        redemptionId: randomUUID(),
        transactionId: randomUUID(),
        residentId: poor,
        residentAccountId: richAccount.id,
        itemId: id,
        quantity: 1,
        generatedCodes: ['TESTCODE1'],
      });
      expect(answer).toBeNull(); // the general path, which finds the resident's own account
      expect([await balance(rich), await balance(poor)]).toEqual(['100', '100']);
    });

    it('the first sale of a new partner’s item goes in one statement: the item opened the account it is paid to', async () => {
      await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'newshop', name: 'New shop', kind: 'shop' }).expect(201);
      const id = itemId('first');
      await item({ id, kind: 'PROMO_CODE', title: 'Pen', partnerId: 'newshop', pricePoints: '10', codeSource: 'GENERATED' });
      const [account] = await t.prisma.$queryRaw<{ shards: number; rows: bigint }[]>`
        SELECT a.shards, (SELECT count(*) FROM account_balances b WHERE b.account_id = a.id) AS rows
        FROM ledger_accounts a WHERE a.code = 'partner:newshop:redeemed'`;
      expect(account.rows).toBe(BigInt(account.shards));
      const ira = resident();
      await grant(ira, '50');
      const spy = oneStatement();
      expect((await redeem(ira, { itemId: id }).expect(201)).body.balanceAfter).toBe('40');
      expect(await spy.mock.results[0].value).toMatchObject({ outcome: 'new', status: 201 });
    });

    it('a body refused as invalid is the key’s answer too, as on every idempotent route', async () => {
      const id = itemId('invalid');
      await item({ id, kind: 'PROMO_CODE', title: 'Jam', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' });
      const zoe = resident();
      await grant(zoe, '100');
      const k = key();
      expectProblem(await redeem(zoe, { itemId: id, quantity: 0 }, k), 400, 'validation_failed');
      const again = await redeem(zoe, { itemId: id, quantity: 0 }, k);
      expectProblem(again, 400, 'validation_failed');
      expect(again.headers['idempotent-replayed']).toBe('true');
      expectProblem(await redeem(zoe, { itemId: id }, k), 409, 'idempotency_conflict');
      expect(await balance(zoe)).toBe('100');
      // a refusal before the key is read (a missing key) stores nothing
      expectProblem(await t.http.post('/v1/me/redemptions').set(t.residentAuth(zoe)).send({ itemId: id }), 400, 'validation_failed');
      await redeem(zoe, { itemId: id }).expect(201);
    });

    it('one key sent 10 times at once: one redemption, ten equal answers', async () => {
      const id = itemId('samekey');
      await item({ id, kind: 'PROMO_CODE', title: 'Cake', partnerId: 'cafe', pricePoints: '20', codeSource: 'GENERATED' });
      const oleg = resident();
      await grant(oleg, '100');
      const k = key();
      const answers = await Promise.all(Array.from({ length: 10 }, () => redeem(oleg, { itemId: id }, k)));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
      for (const a of answers) expect(a.body).toEqual(answers[0].body);
      expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
      expect(await balance(oleg)).toBe('80');
      expect(await t.prisma.redemption.count({ where: { residentId: oleg } })).toBe(1);
    });
  });

  describe('partners at the till', () => {
    let code: string;
    let redemptionId: string;
    let egor: string;
    const id = 'till-item';

    beforeAll(async () => {
      await item({
        id,
        kind: 'PROMO_CODE',
        title: 'Cake',
        partnerId: 'cafe',
        pricePoints: '30',
        codeSource: 'GENERATED',
        codeValidDays: 7,
      });
      egor = resident();
      await grant(egor, '100');
      const res = await redeem(egor, { itemId: id }).expect(201);
      code = res.body.codes[0].code;
      redemptionId = res.body.id;
    });

    it('validates its own code; another partner or an unknown code gets 404', async () => {
      const res = await t.http.get(`/v1/partner/codes/${code}`).set(partnerKeys.cafe).expect(200);
      expect(res.body).toMatchObject({ code, status: 'issued', itemId: id, redeemedAt: null });
      expectProblem(await t.http.get(`/v1/partner/codes/${code}`).set(partnerKeys.museum), 404, 'not_found');
      expectProblem(await t.http.post(`/v1/partner/codes/${code}/redeem`).set(partnerKeys.museum), 404, 'not_found');
      expectProblem(await t.http.get('/v1/partner/codes/NOSUCHCODE123').set(partnerKeys.cafe), 404, 'not_found');
    });

    it('20 concurrent redeems of one code: exactly one 200, the rest 409 code_already_redeemed; then no cancel', async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => t.http.post(`/v1/partner/codes/${code}/redeem`).set(partnerKeys.cafe)),
      );
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409 && a.body.code === 'code_already_redeemed')).toHaveLength(19);
      expect((await t.http.get(`/v1/partner/codes/${code}`).set(partnerKeys.cafe).expect(200)).body.status).toBe('redeemed');
      expectProblem(await t.http.post(`/v1/me/redemptions/${redemptionId}/cancel`).set(t.residentAuth(egor)), 409, 'invalid_state');
      expect(await balance(egor)).toBe('70');
    });

    it('an expired code is 410; a cancelled one is 409 invalid_state', async () => {
      const r = await redeem(egor, { itemId: id }).expect(201);
      await t.prisma.itemCode.updateMany({ where: { code: r.body.codes[0].code }, data: { validUntil: new Date(Date.now() - 60_000) } });
      expect((await t.http.get(`/v1/partner/codes/${r.body.codes[0].code}`).set(partnerKeys.cafe).expect(200)).body.status).toBe('expired');
      expectProblem(await t.http.post(`/v1/partner/codes/${r.body.codes[0].code}/redeem`).set(partnerKeys.cafe), 410, 'code_expired');

      const c = await redeem(egor, { itemId: id }).expect(201);
      const cancelled = await t.http.post(`/v1/me/redemptions/${c.body.id}/cancel`).set(t.residentAuth(egor)).expect(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', codes: [{ status: 'cancelled' }] });
      expectProblem(await t.http.post(`/v1/partner/codes/${c.body.codes[0].code}/redeem`).set(partnerKeys.cafe), 409, 'invalid_state');
      expectProblem(await t.http.post(`/v1/me/redemptions/${c.body.id}/cancel`).set(t.residentAuth(egor)), 409, 'invalid_state');
    });

    it('settlements give the redeemed codes per item, the same points the ledger moved', async () => {
      const from = new Date(Date.now() - 3600_000).toISOString();
      const to = new Date(Date.now() + 3600_000).toISOString();
      const s = (await t.http.get(`/v1/partner/settlements?from=${from}&to=${to}`).set(partnerKeys.cafe).expect(200)).body;
      const row = s.items.find((i: { itemId: string }) => i.itemId === id);
      expect(row).toMatchObject({ codes: 1, points: '30' });
      const redeemed = await t.prisma.$queryRawUnsafe<{ points: string }[]>(
        `SELECT coalesce(sum(r.points_spent), 0)::text AS points FROM item_codes c JOIN redemptions r ON r.id = c.redemption_id
         JOIN catalogue_items i ON i.id = c.item_id WHERE i.partner_id = 'cafe' AND c.status = 'redeemed'`,
      );
      expect(s.total.points).toBe(redeemed[0].points);
      expectProblem(await t.http.get('/v1/partner/settlements').set(partnerKeys.cafe), 400, 'validation_failed');
    });
  });

  describe('cancelling', () => {
    it('an unused code within the window: the points come back and the count is freed', async () => {
      const id = itemId('cancel');
      await item({
        id,
        kind: 'PROMO_CODE',
        title: 'Tea',
        partnerId: 'cafe',
        pricePoints: '25',
        codeSource: 'GENERATED',
        stock: 1,
        perResidentLimit: 1,
      });
      const fedor = resident();
      await grant(fedor, '25');
      const r = await redeem(fedor, { itemId: id }).expect(201);
      expect(await balance(fedor)).toBe('0');
      const c = await t.http.post(`/v1/me/redemptions/${r.body.id}/cancel`).set(t.residentAuth(fedor)).expect(200);
      expect(c.body).toMatchObject({ status: 'cancelled', balanceAfter: '25' });
      // stock and the per-resident count were given back
      await redeem(fedor, { itemId: id }).expect(201);
    });

    it('gives back what the redemption counted, even when the item changed since', async () => {
      const id = itemId('changed');
      await item({ id, kind: 'PROMO_CODE', title: 'Cake', partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED' });
      const hanna = resident();
      await grant(hanna, '30');
      // bought while the stock was unlimited and without a limit: nothing was counted
      const r = await redeem(hanna, { itemId: id }).expect(201);
      // the admin limits the item at once: the very next redemption sees it, in any process
      await t.http.patch(`/v1/admin/catalogue-items/${id}`).set(t.admin).send({ stock: 1, perResidentLimit: 1 }).expect(200);
      await redeem(hanna, { itemId: id }).expect(201);
      expectProblem(await redeem(hanna, { itemId: id }), 409, 'limit_exceeded');
      // cancelling the first gives back no stock and no count it never took
      await t.http.post(`/v1/me/redemptions/${r.body.id}/cancel`).set(t.residentAuth(hanna)).expect(200);
      const now = (await t.http.get(`/v1/admin/catalogue-items/${id}`).set(t.admin).expect(200)).body;
      expect(now).toMatchObject({ stock: 1, sold: 1 });
      expectProblem(await redeem(hanna, { itemId: id }), 409, 'limit_exceeded');
      expect(await balance(hanna)).toBe('20');
    });

    it('after the cancel window: 409 invalid_state', async () => {
      const id = itemId('nowindow');
      await item({
        id,
        kind: 'PROMO_CODE',
        title: 'Scone',
        partnerId: 'cafe',
        pricePoints: '5',
        codeSource: 'GENERATED',
        cancelWindowHours: 0,
      });
      const galya = resident();
      await grant(galya, '5');
      const r = await redeem(galya, { itemId: id }).expect(201);
      await new Promise((res) => setTimeout(res, 5));
      expectProblem(await t.http.post(`/v1/me/redemptions/${r.body.id}/cancel`).set(t.residentAuth(galya)), 409, 'invalid_state');
      expect(await balance(galya)).toBe('0');
    });
  });

  describe('donations', () => {
    it('a donation moves points to the fund, within the item’s bounds', async () => {
      const id = itemId('donate');
      await item({ id, kind: 'DONATION', title: 'Help the shelter', partnerId: 'fund', minPoints: '10', maxPoints: '1000' });
      const ivan = resident();
      await grant(ivan, '500');
      for (const amount of ['9', '1001', '10.5', '-10']) {
        expectProblem(
          await t.http.post('/v1/me/donations').set(t.residentAuth(ivan)).set(key()).send({ itemId: id, amount }),
          400,
          'validation_failed',
        );
      }
      const d = await t.http.post('/v1/me/donations').set(t.residentAuth(ivan)).set(key()).send({ itemId: id, amount: '150' }).expect(201);
      expect(d.body).toMatchObject({ kind: 'DONATION', pointsSpent: '150', balanceAfter: '350', codes: [] });
      const fund = (await t.http.get('/v1/ledger/accounts/charity:fund/balance').set(t.admin).expect(200)).body;
      expect(fund.posted).toBe('150');
      const from = new Date(Date.now() - 3600_000).toISOString();
      const to = new Date(Date.now() + 3600_000).toISOString();
      const s = (await t.http.get(`/v1/partner/settlements?from=${from}&to=${to}`).set(partnerKeys.fund).expect(200)).body;
      expect(s.donations).toEqual([{ itemId: id, title: 'Help the shelter', donations: 1, points: '150' }]);
      expectProblem(
        await t.http.post('/v1/me/redemptions').set(t.residentAuth(ivan)).set(key()).send({ itemId: id }),
        400,
        'validation_failed',
      );
    });
  });

  describe('bad input and inactive items change nothing', () => {
    it('an inactive or unknown item is 404; bad bodies are 400', async () => {
      const id = itemId('later');
      await item({
        id,
        kind: 'PROMO_CODE',
        title: 'Later',
        partnerId: 'cafe',
        pricePoints: '1',
        codeSource: 'GENERATED',
        activeFrom: '2999-01-01T00:00:00Z',
      });
      const r = resident();
      await grant(r, '10');
      expectProblem(await redeem(r, { itemId: id }), 404, 'not_found');
      expectProblem(await redeem(r, { itemId: 'no-such-item' }), 404, 'not_found');
      for (const body of [
        {},
        { itemId: id, quantity: 0 },
        { itemId: id, quantity: 11 },
        { itemId: id, quantity: 1.5 },
        { itemId: 'Bad Id' },
        { itemId: id, extra: 1 },
      ]) {
        expectProblem(await redeem(r, body), 400, 'validation_failed');
      }
      expectProblem(await t.http.post('/v1/me/redemptions').set(t.residentAuth(r)).send({ itemId: id }), 400, 'validation_failed');
      expect(await balance(r)).toBe('10');
      expect((await t.http.get('/v1/catalogue?limit=500').expect(200)).body.items.some((i: { id: string }) => i.id === id)).toBe(false);
    });
  });

  describe('code pools', () => {
    it('JSON and streamed CSV uploads count duplicates; a bad code refuses the whole upload', async () => {
      const id = itemId('pool');
      await item({ id, kind: 'PROMO_CODE', title: 'Pool', partnerId: 'other', pricePoints: '1', codeSource: 'POOL' });
      expect((await pool(id, [`${id}-A1`, `${id}-A2`, `${id}-A1`])).body).toEqual({ added: 2, duplicates: 1 });
      const csv = [`${id}-A2`, `${id}-B1`, '', `${id}-B2`, `${id}-B2`].join('\n');
      const up = await t.http
        .post(`/v1/partner/items/${id}/codes`)
        .set(partnerKeys.other)
        .set('Content-Type', 'text/csv')
        .send(csv)
        .expect(200);
      expect(up.body).toEqual({ added: 2, duplicates: 2 });
      const before = await t.prisma.itemCode.count({ where: { itemId: id } });
      expectProblem(
        await t.http
          .post(`/v1/admin/items/${id}/codes`)
          .set(t.admin)
          .send({ codes: [`${id}-C1`, 'has space'] }),
        400,
        'validation_failed',
      );
      expectProblem(await t.http.post(`/v1/admin/items/${id}/codes`).set(t.admin).send({ codes: [] }), 400, 'validation_failed');
      expectProblem(
        await t.http.post(`/v1/admin/items/${id}/codes`).set(t.admin).set('Content-Type', 'application/xml').send('<x/>'),
        415,
        'unsupported_media_type',
      );
      expect(await t.prisma.itemCode.count({ where: { itemId: id } })).toBe(before);
      expectProblem(
        await t.http
          .post(`/v1/partner/items/${id}/codes`)
          .set(partnerKeys.cafe)
          .send({ codes: ['ZZZZ-1'] }),
        404,
        'not_found',
      );
    });

    it('a code another partner holds is simply added: an upload tells nothing of other partners’ codes', async () => {
      const mine = itemId('mine');
      const theirs = itemId('theirs');
      const again = itemId('again');
      await item({ id: mine, kind: 'PROMO_CODE', title: 'Mine', partnerId: 'cafe', pricePoints: '5', codeSource: 'POOL' });
      await item({ id: theirs, kind: 'PROMO_CODE', title: 'Theirs', partnerId: 'other', pricePoints: '5', codeSource: 'POOL' });
      await item({ id: again, kind: 'PROMO_CODE', title: 'Mine too', partnerId: 'cafe', pricePoints: '5', codeSource: 'POOL' });
      const secret = `SHARED-${randomUUID().slice(0, 8)}`;
      const up = (id: string, partner: string) =>
        t.http
          .post(`/v1/partner/items/${id}/codes`)
          .set(partnerKeys[partner])
          .send({ codes: [secret] })
          .expect(200);
      expect((await up(mine, 'cafe')).body).toEqual({ added: 1, duplicates: 0 });
      expect((await up(theirs, 'other')).body).toEqual({ added: 1, duplicates: 0 });
      // within one partner a code stays unique across its items
      expect((await up(again, 'cafe')).body).toEqual({ added: 0, duplicates: 1 });
      // each partner redeems only its own copy
      const olga = resident();
      await grant(olga, '10');
      const a = await redeem(olga, { itemId: mine }).expect(201);
      expect(a.body.codes[0].code).toBe(secret);
      expect((await t.http.get(`/v1/partner/codes/${secret}`).set(partnerKeys.cafe).expect(200)).body).toMatchObject({
        itemId: mine,
        status: 'issued',
      });
      expectProblem(await t.http.get(`/v1/partner/codes/${secret}`).set(partnerKeys.other), 404, 'not_found');
      await t.http.post(`/v1/partner/codes/${secret}/redeem`).set(partnerKeys.cafe).expect(200);
      expectProblem(await t.http.post(`/v1/partner/codes/${secret}/redeem`).set(partnerKeys.other), 404, 'not_found');
    });

    it('a large CSV pool is streamed in: 20,000 codes', async () => {
      const id = itemId('bigpool');
      await item({ id, kind: 'TICKET', title: 'Park entry', partnerId: 'museum', pricePoints: '1', codeSource: 'POOL' });
      const csv = Array.from({ length: 20_000 }, (_, i) => `${id}-${i}`).join('\n');
      const up = await t.http.post(`/v1/admin/items/${id}/codes`).set(t.admin).set('Content-Type', 'text/csv').send(csv).expect(200);
      expect(up.body).toEqual({ added: 20_000, duplicates: 0 });
    });
  });
});

describe('partner validation is rate-limited per key', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ PARTNER_CODE_RATE_PER_MINUTE: '5' });
  });

  afterAll(() => t.close());

  it('the sixth attempt in a minute is 429 rate_limited; another key is not affected', async () => {
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'cafe', kind: 'cafe' }).expect(201);
    const key = async () =>
      (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'k', role: 'partner', partnerId: 'cafe' }).expect(201)).body
        .apiKey;
    const [a, b] = [await key(), await key()];
    for (let i = 0; i < 5; i++) expectProblem(await t.http.get(`/v1/partner/codes/GUESS${i}XX`).set('X-API-Key', a), 404, 'not_found');
    expectProblem(await t.http.get('/v1/partner/codes/GUESS9XX').set('X-API-Key', a), 429, 'rate_limited');
    expectProblem(await t.http.get('/v1/partner/codes/GUESS9XX').set('X-API-Key', b), 404, 'not_found');
  });
});
