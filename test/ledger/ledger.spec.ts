import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { expectProblem, startTestApp, TestApp } from '../support/app';

/** The ledger through HTTP: transfers, holds, reversals, balances now and as of a moment. */
describe('the ledger', () => {
  let t: TestApp;
  let n = 0;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(() => t.close());

  const key = () => ({ 'Idempotency-Key': `k-${++n}-${randomUUID()}` });
  const resident = () => `r${randomUUID().slice(0, 8)}`;

  const grant = async (residentId: string, amount: string) =>
    t.http.post('/v1/admin/adjustments').set(t.admin).set(key()).send({ residentId, amount, reason: 'opening balance' }).expect(201);

  const transact = (body: object) => t.http.post('/v1/ledger/transactions').set(t.admin).set(key()).send(body);

  const spend = (residentId: string, amount: string, extra: object = {}) =>
    transact({
      type: 'redeem',
      postings: [
        { account: `resident:${residentId}`, asset: 'POINTS', debit: amount },
        { account: 'partner:coffee:redeemed', asset: 'POINTS', credit: amount },
      ],
      ...extra,
    });

  const balance = async (account: string, query = '') =>
    (await t.http.get(`/v1/ledger/accounts/${account}/balance${query}`).set(t.admin).expect(200)).body;

  const trialTotals = async () => (await t.http.get('/v1/audit/trial-balance').set(t.admin).expect(200)).body;

  it('a resident granted 1000 points holds 1000, and the trial balance sums to zero', async () => {
    const anna = resident();
    const res = await grant(anna, '1000');
    expect(res.body).toMatchObject({
      type: 'adjustment',
      status: 'posted',
      postings: [
        { account: 'programme:adjustments', asset: 'POINTS', debit: '1000' },
        { account: `resident:${anna}`, asset: 'POINTS', credit: '1000' },
      ],
      metadata: { reason: 'opening balance', residentId: anna },
    });
    expect(await balance(`resident:${anna}`)).toMatchObject({ posted: '1000', available: '1000', pending: '0' });
    const tb = await trialTotals();
    expect(tb.totals.length).toBeGreaterThan(0);
    for (const total of tb.totals) expect(total.debits).toBe(total.credits);
    expect(tb.accounts).toEqual(
      expect.arrayContaining([{ account: `resident:${anna}`, asset: 'POINTS', debits: '0', credits: '1000', balance: '1000' }]),
    );
  });

  it('a resident cannot spend more than they hold: 409 insufficient_points, nothing recorded', async () => {
    const boris = resident();
    await grant(boris, '100');
    const before = await t.prisma.ledgerTransaction.count();
    expectProblem(await spend(boris, '101'), 409, 'insufficient_points');
    expect(await t.prisma.ledgerTransaction.count()).toBe(before);
    expect(await balance(`resident:${boris}`)).toMatchObject({ posted: '100', available: '100' });
    await spend(boris, '100').expect(201);
    expect(await balance(`resident:${boris}`)).toMatchObject({ posted: '0', available: '0' });
  });

  it.each([
    [
      'unbalanced',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '10' },
          { account: 'resident:x1', asset: 'POINTS', credit: '9' },
        ],
      },
    ],
    ['a single posting', { type: 't', postings: [{ account: 'programme:issued', asset: 'POINTS', debit: '10' }] }],
    [
      'fractional points',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '1.5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '1.5' },
        ],
      },
    ],
    [
      'a negative amount',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '-5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '-5' },
        ],
      },
    ],
    [
      'a zero amount',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '0' },
          { account: 'resident:x1', asset: 'POINTS', credit: '0' },
        ],
      },
    ],
    [
      'a number instead of a string',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: 5 },
          { account: 'resident:x1', asset: 'POINTS', credit: 5 },
        ],
      },
    ],
    [
      'an exponent',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '1e3' },
          { account: 'resident:x1', asset: 'POINTS', credit: '1e3' },
        ],
      },
    ],
    [
      'both debit and credit',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5', credit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'neither debit nor credit',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'an unknown account kind',
      {
        type: 't',
        postings: [
          { account: 'bank:vault', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'a malformed resident',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: 'resident:a b', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'an unknown asset',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'GOLD', debit: '5' },
          { account: 'resident:x1', asset: 'GOLD', credit: '5' },
        ],
      },
    ],
    [
      'one account on both sides',
      {
        type: 't',
        postings: [
          { account: 'resident:x1', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'an amount too large',
      {
        type: 't',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '1000000000000001' },
          { account: 'resident:x1', asset: 'POINTS', credit: '1000000000000001' },
        ],
      },
    ],
    [
      'a bad type',
      {
        type: 'Bad Type',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'an expiry without pending',
      {
        type: 't',
        expiresAt: '2999-01-01T00:00:00Z',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'an expiry in the past',
      {
        type: 't',
        pending: true,
        expiresAt: '2000-01-01T00:00:00Z',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
    [
      'unknown fields',
      {
        type: 't',
        extra: true,
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: 'resident:x1', asset: 'POINTS', credit: '5' },
        ],
      },
    ],
  ])('a transaction with %s is a 400 and changes nothing', async (_what, body) => {
    const before = await t.prisma.ledgerPosting.count();
    expectProblem(await transact(body), 400, 'validation_failed');
    expect(await t.prisma.ledgerPosting.count()).toBe(before);
  });

  it('RUB keeps two decimals: kopecks are exact, a third decimal is refused', async () => {
    const ok = await transact({
      type: 'settlement',
      postings: [
        { account: 'programme:settlements', asset: 'RUB', debit: '1234.56' },
        { account: 'partner:coffee:payable', asset: 'RUB', credit: '1234.56' },
      ],
    }).expect(201);
    expect(ok.body.postings[0]).toEqual({ account: 'programme:settlements', asset: 'RUB', debit: '1234.56' });
    expect(await balance('partner:coffee:payable', '?asset=RUB')).toMatchObject({ posted: '1234.56' });
    expectProblem(
      await transact({
        type: 'settlement',
        postings: [
          { account: 'programme:settlements', asset: 'RUB', debit: '0.001' },
          { account: 'partner:coffee:payable', asset: 'RUB', credit: '0.001' },
        ],
      }),
      400,
      'validation_failed',
    );
  });

  describe('pending (two-phase) transactions', () => {
    it('a hold reserves points: not available, still posted; posting part of it releases the rest', async () => {
      const vera = resident();
      await grant(vera, '1000');
      const hold = await spend(vera, '300', { pending: true }).expect(201);
      expect(hold.body.status).toBe('pending');
      expect(await balance(`resident:${vera}`)).toMatchObject({ posted: '1000', available: '700', pendingOut: '300' });
      // the held points cannot be spent twice
      expectProblem(await spend(vera, '701'), 409, 'insufficient_points');

      const posted = await t.http.post(`/v1/ledger/transactions/${hold.body.id}/post`).set(t.admin).send({ amount: '200' }).expect(200);
      expect(posted.body).toMatchObject({ status: 'posted', pendingId: hold.body.id, postings: [{ debit: '200' }, { credit: '200' }] });
      expect(await balance(`resident:${vera}`)).toMatchObject({ posted: '800', available: '800', pendingOut: '0' });
      expect(await balance('partner:coffee:redeemed')).toMatchObject({ pending: '0' });

      const again = await t.http.get(`/v1/ledger/transactions/${hold.body.id}`).set(t.admin).expect(200);
      expect(again.body).toMatchObject({ status: 'posted', settledBy: posted.body.id });
      expectProblem(await t.http.post(`/v1/ledger/transactions/${hold.body.id}/post`).set(t.admin).send({}), 409, 'invalid_state');
      expectProblem(await t.http.post(`/v1/ledger/transactions/${hold.body.id}/void`).set(t.admin), 409, 'invalid_state');
    });

    it('a voided hold gives every point back', async () => {
      const gleb = resident();
      await grant(gleb, '500');
      const hold = await spend(gleb, '500', { pending: true }).expect(201);
      expect(await balance(`resident:${gleb}`)).toMatchObject({ available: '0' });
      const voided = await t.http.post(`/v1/ledger/transactions/${hold.body.id}/void`).set(t.admin).expect(200);
      expect(voided.body).toMatchObject({ status: 'void', pendingId: hold.body.id, postings: [] });
      expect(await balance(`resident:${gleb}`)).toMatchObject({ posted: '500', available: '500' });
      expect((await t.http.get(`/v1/ledger/transactions/${hold.body.id}`).set(t.admin)).body.status).toBe('voided');
    });

    it('a pending credit shows as pending and cannot be spent until posted', async () => {
      const dina = resident();
      const earn = await transact({
        type: 'earn',
        pending: true,
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '50' },
          { account: `resident:${dina}`, asset: 'POINTS', credit: '50' },
        ],
      }).expect(201);
      expect(await balance(`resident:${dina}`)).toMatchObject({ posted: '0', pending: '50', available: '0' });
      const me = await t.http.get('/v1/me/balance').set(t.residentAuth(dina)).expect(200);
      expect(me.body).toEqual({ residentId: dina, available: '0', pending: '50', debt: '0', expiring: [] });
      expectProblem(await spend(dina, '1'), 409, 'insufficient_points');
      await t.http.post(`/v1/ledger/transactions/${earn.body.id}/post`).set(t.admin).send({}).expect(200);
      expect((await t.http.get('/v1/me/balance').set(t.residentAuth(dina)).expect(200)).body).toEqual({
        residentId: dina,
        available: '50',
        pending: '0',
        debt: '0',
        expiring: [],
      });
    });

    it('a part larger than the hold, or of a hold with mixed amounts, is refused', async () => {
      const egor = resident();
      await grant(egor, '100');
      const hold = await spend(egor, '60', { pending: true }).expect(201);
      for (const amount of ['61', '0', '1.5']) {
        expectProblem(
          await t.http.post(`/v1/ledger/transactions/${hold.body.id}/post`).set(t.admin).send({ amount }),
          400,
          'validation_failed',
        );
      }
      expect(await balance(`resident:${egor}`)).toMatchObject({ available: '40', pendingOut: '60' });
      // a hold split between two partners (20 and 10 against 30): posted whole, never in part
      const split = await transact({
        type: 'redeem',
        pending: true,
        postings: [
          { account: `resident:${egor}`, asset: 'POINTS', debit: '30' },
          { account: 'partner:coffee:redeemed', asset: 'POINTS', credit: '20' },
          { account: 'partner:tea:redeemed', asset: 'POINTS', credit: '10' },
        ],
      }).expect(201);
      const refused = await t.http.post(`/v1/ledger/transactions/${split.body.id}/post`).set(t.admin).send({ amount: '10' });
      expectProblem(refused, 400, 'validation_failed');
      expect(refused.body.detail).toMatch(/one amount/);
      expect(await balance(`resident:${egor}`)).toMatchObject({ available: '10', pendingOut: '90' });
      await t.http.post(`/v1/ledger/transactions/${split.body.id}/post`).set(t.admin).send({}).expect(200);
      expect(await balance(`resident:${egor}`)).toMatchObject({ available: '10', pendingOut: '60' });
    });
  });

  describe('reversals', () => {
    it('a reversal swaps the postings, once; a reversal itself cannot be reversed', async () => {
      const fedor = resident();
      const grantTx = await grant(fedor, '300');
      const rev = await t.http
        .post(`/v1/ledger/transactions/${grantTx.body.id}/reverse`)
        .set(t.admin)
        .send({ metadata: { reason: 'error' } })
        .expect(200);
      expect(rev.body).toMatchObject({
        type: 'reversal',
        reversesId: grantTx.body.id,
        postings: [
          { account: 'programme:adjustments', credit: '300' },
          { account: `resident:${fedor}`, debit: '300' },
        ],
      });
      expect(await balance(`resident:${fedor}`)).toMatchObject({ posted: '0' });
      expect((await t.http.get(`/v1/ledger/transactions/${grantTx.body.id}`).set(t.admin)).body.reversedBy).toBe(rev.body.id);
      expectProblem(await t.http.post(`/v1/ledger/transactions/${grantTx.body.id}/reverse`).set(t.admin).send({}), 409, 'invalid_state');
      expectProblem(await t.http.post(`/v1/ledger/transactions/${rev.body.id}/reverse`).set(t.admin).send({}), 409, 'invalid_state');
    });

    it('a reversal that would take a resident below zero is refused', async () => {
      const galina = resident();
      const grantTx = await grant(galina, '100');
      await spend(galina, '80').expect(201);
      expectProblem(
        await t.http.post(`/v1/ledger/transactions/${grantTx.body.id}/reverse`).set(t.admin).send({}),
        409,
        'insufficient_points',
      );
      expect(await balance(`resident:${galina}`)).toMatchObject({ posted: '20' });
    });

    it('a pending transaction cannot be reversed, only voided', async () => {
      const hold = await transact({
        type: 'earn',
        pending: true,
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: `resident:${resident()}`, asset: 'POINTS', credit: '5' },
        ],
      }).expect(201);
      expectProblem(await t.http.post(`/v1/ledger/transactions/${hold.body.id}/reverse`).set(t.admin).send({}), 409, 'invalid_state');
    });

    it('unknown and malformed ids', async () => {
      const unknown = randomUUID();
      for (const action of ['post', 'void', 'reverse']) {
        expectProblem(await t.http.post(`/v1/ledger/transactions/${unknown}/${action}`).set(t.admin).send({}), 404, 'not_found');
        expectProblem(await t.http.post(`/v1/ledger/transactions/nope/${action}`).set(t.admin).send({}), 400, 'validation_failed');
      }
      expectProblem(await t.http.get(`/v1/ledger/transactions/${unknown}`).set(t.admin), 404, 'not_found');
    });
  });

  describe('balances as of a past moment', () => {
    it('the balance and the trial balance at each moment are what they were then', async () => {
      const hana = resident();
      await grant(hana, '100');
      const t1 = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 20));
      await grant(hana, '50');
      const hold = await spend(hana, '30', { pending: true }).expect(201);
      const t2 = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 20));
      await t.http.post(`/v1/ledger/transactions/${hold.body.id}/post`).set(t.admin).send({}).expect(200);

      expect(await balance(`resident:${hana}`, `?asOf=${t1}`)).toMatchObject({ posted: '100', available: '100', asOf: t1 });
      expect(await balance(`resident:${hana}`, `?asOf=${t2}`)).toMatchObject({ posted: '150', available: '120', pendingOut: '30' });
      expect(await balance(`resident:${hana}`)).toMatchObject({ posted: '120', available: '120' });
      expect(await balance(`resident:${hana}`, '?asOf=2000-01-01T00:00:00Z')).toMatchObject({ posted: '0' });

      const past = (await t.http.get(`/v1/audit/trial-balance?asOf=${t1}`).set(t.admin).expect(200)).body;
      expect(past.asOf).toBe(t1);
      expect(past.accounts.find((a: { account: string }) => a.account === `resident:${hana}`)).toMatchObject({ balance: '100' });
      expect(past.totals.length).toBeGreaterThan(0);
      for (const total of past.totals) expect(total.debits).toBe(total.credits);
    });

    it('bad moments and assets are a 400', async () => {
      expectProblem(await t.http.get('/v1/ledger/accounts/resident:x/balance?asOf=yesterday').set(t.admin), 400, 'validation_failed');
      expectProblem(await t.http.get('/v1/ledger/accounts/resident:x/balance?asset=GOLD').set(t.admin), 400, 'validation_failed');
      expectProblem(await t.http.get('/v1/ledger/accounts/nowhere/balance').set(t.admin), 400, 'validation_failed');
      expectProblem(await t.http.get('/v1/audit/trial-balance?asOf=2024-13-45').set(t.admin), 400, 'validation_failed');
    });

    it('an account never used has a zero balance', async () => {
      expect(await balance(`resident:${resident()}`)).toMatchObject({ posted: '0', pending: '0', available: '0' });
    });
  });

  describe('idempotency', () => {
    it('the same key and body: the same status and body again, and one transaction', async () => {
      const ivan = resident();
      const k = key();
      const body = { residentId: ivan, amount: '70', reason: 'welcome bonus' };
      const first = await t.http.post('/v1/admin/adjustments').set(t.admin).set(k).send(body).expect(201);
      const second = await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set(k)
        .send({ reason: 'welcome bonus', amount: '70', residentId: ivan })
        .expect(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(await balance(`resident:${ivan}`)).toMatchObject({ posted: '70' });
    });

    it('a replay is the first answer byte for byte, even where jsonb would have reordered its keys', async () => {
      const k = key();
      // jsonb orders an object's keys by length, then bytes: these would come back as a, mm, zzzz
      const metadata = { zzzz: 'last in jsonb', mm: { yy: 1, b: 2 }, a: 'first in jsonb' };
      const body = {
        type: 'transfer',
        metadata,
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '5' },
          { account: `resident:${resident()}`, asset: 'POINTS', credit: '5' },
        ],
      };
      const first = await t.http.post('/v1/ledger/transactions').set(t.admin).set(k).send(body).expect(201);
      expect(first.text).toContain('"metadata":{"zzzz":"last in jsonb","mm":{"yy":1,"b":2},"a":"first in jsonb"}');
      const again = await t.http.post('/v1/ledger/transactions').set(t.admin).set(k).send(body).expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.text).toBe(first.text);
      expect(again.headers['content-type']).toBe(first.headers['content-type']);
      // a stored refusal too
      const refused = { ...body, postings: [{ ...body.postings[0], debit: '6' }, body.postings[1]] };
      const k2 = key();
      const no = await t.http.post('/v1/ledger/transactions').set(t.admin).set(k2).send(refused).expect(400);
      const noAgain = await t.http.post('/v1/ledger/transactions').set(t.admin).set(k2).send(refused).expect(400);
      expect(noAgain.text).toBe(no.text);
      expect(noAgain.headers['content-type']).toMatch(/^application\/problem\+json/);
    });

    it('the same key with another body: 409 idempotency_conflict, nothing recorded', async () => {
      const k = key();
      const ivan = resident();
      await t.http.post('/v1/admin/adjustments').set(t.admin).set(k).send({ residentId: ivan, amount: '5', reason: 'first' }).expect(201);
      const res = await t.http.post('/v1/admin/adjustments').set(t.admin).set(k).send({ residentId: ivan, amount: '6', reason: 'first' });
      expectProblem(res, 409, 'idempotency_conflict');
      expect(await balance(`resident:${ivan}`)).toMatchObject({ posted: '5' });
    });

    it('a refused request replays its refusal, even after the balance has grown', async () => {
      const juri = resident();
      const k = key();
      const body = {
        type: 'redeem',
        postings: [
          { account: `resident:${juri}`, asset: 'POINTS', debit: '10' },
          { account: 'partner:coffee:redeemed', asset: 'POINTS', credit: '10' },
        ],
      };
      expectProblem(await t.http.post('/v1/ledger/transactions').set(t.admin).set(k).send(body), 409, 'insufficient_points');
      await grant(juri, '100');
      const replay = await t.http.post('/v1/ledger/transactions').set(t.admin).set(k).send(body);
      expectProblem(replay, 409, 'insufficient_points');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await balance(`resident:${juri}`)).toMatchObject({ posted: '100' });
    });

    it('a missing or malformed key is a 400', async () => {
      const body = { residentId: 'x', amount: '5', reason: 'no key' };
      expectProblem(await t.http.post('/v1/admin/adjustments').set(t.admin).send(body), 400, 'validation_failed');
      expectProblem(
        await t.http.post('/v1/admin/adjustments').set(t.admin).set('Idempotency-Key', 'k'.repeat(256)).send(body),
        400,
        'validation_failed',
      );
    });

    it('keys belong to their client: another admin may use the same key', async () => {
      const k = key();
      const other = await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'admin 2', role: 'admin' }).expect(201);
      const kira = resident();
      await t.http.post('/v1/admin/adjustments').set(t.admin).set(k).send({ residentId: kira, amount: '1', reason: 'mine' }).expect(201);
      await t.http
        .post('/v1/admin/adjustments')
        .set('X-API-Key', other.body.apiKey)
        .set(k)
        .send({ residentId: kira, amount: '2', reason: 'theirs' })
        .expect(201);
      expect(await balance(`resident:${kira}`)).toMatchObject({ posted: '3' });
    });

    it('twenty concurrent requests with one key: one transaction, the same answer for all', async () => {
      const lev = resident();
      const k = key();
      const body = { residentId: lev, amount: '40', reason: 'concurrent' };
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => request(t.app.getHttpServer()).post('/v1/admin/adjustments').set(t.admin).set(k).send(body)),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(await balance(`resident:${lev}`)).toMatchObject({ posted: '40' });
    });
  });

  describe('adjustments', () => {
    it('a negative adjustment takes points back, never below zero', async () => {
      const mila = resident();
      await grant(mila, '30');
      const back = await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set(key())
        .send({ residentId: mila, amount: '-20', reason: 'duplicate accrual' })
        .expect(201);
      expect(back.body.postings).toEqual([
        { account: `resident:${mila}`, asset: 'POINTS', debit: '20' },
        { account: 'programme:adjustments', asset: 'POINTS', credit: '20' },
      ]);
      expectProblem(
        await t.http.post('/v1/admin/adjustments').set(t.admin).set(key()).send({ residentId: mila, amount: '-11', reason: 'too much' }),
        409,
        'insufficient_points',
      );
      expect(await balance(`resident:${mila}`)).toMatchObject({ posted: '10' });
    });

    it.each([
      [{ residentId: 'x', amount: '0', reason: 'zero' }],
      [{ residentId: 'x', amount: '1.5', reason: 'fraction' }],
      [{ residentId: 'x', amount: 10, reason: 'number' }],
      [{ residentId: 'x', amount: '10' }],
      [{ residentId: 'x', amount: '10', reason: '' }],
      [{ residentId: 'a:b', amount: '10', reason: 'bad id' }],
    ])('%j is a 400', async (body) => {
      expectProblem(await t.http.post('/v1/admin/adjustments').set(t.admin).set(key()).send(body), 400, 'validation_failed');
    });
  });
});
