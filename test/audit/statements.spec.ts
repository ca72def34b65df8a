import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { expectProblem, startTestApp, TestApp } from '../support/app';

describe('audit reads: statements, the journal, tracing a point', () => {
  let t: TestApp;
  let auditor: { 'X-API-Key': string };
  let t0: string;
  let t1: string;

  beforeAll(async () => {
    t = await startTestApp();
    auditor = {
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'a', role: 'auditor' }).expect(201)).body.apiKey,
    };
    const move = (body: object) =>
      t.http.post('/v1/ledger/transactions').set(t.admin).set('Idempotency-Key', randomUUID()).send(body).expect(201);
    const earn = (amount: string) =>
      move({
        type: 'earn',
        description: `earned ${amount}`,
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: amount },
          { account: 'resident:anna', asset: 'POINTS', credit: amount },
        ],
      });
    await earn('100');
    await new Promise((r) => setTimeout(r, 20));
    t0 = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await earn('50');
    await move({
      type: 'redeem',
      postings: [
        { account: 'resident:anna', asset: 'POINTS', debit: '30' },
        { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '30' },
      ],
    });
    await earn('7');
    await new Promise((r) => setTimeout(r, 20));
    t1 = new Date().toISOString();
    await earn('1000');
  });

  afterAll(() => t.close());

  it('a statement: opening balance, the entries with running balance, closing balance', async () => {
    const s = (await t.http.get(`/v1/audit/accounts/resident:anna/statement?from=${t0}&to=${t1}`).set(auditor).expect(200)).body;
    expect(s).toMatchObject({ account: 'resident:anna', asset: 'POINTS', openingBalance: '100', closingBalance: '127' });
    expect(s.entries.map((e: { credit?: string; debit?: string; balance: string }) => [e.credit ?? `-${e.debit}`, e.balance])).toEqual([
      ['50', '150'],
      ['-30', '120'],
      ['7', '127'],
    ]);
  });

  it('the CSV statement says the same as the JSON one', async () => {
    const json = (await t.http.get(`/v1/audit/accounts/resident:anna/statement?from=${t0}&to=${t1}`).set(auditor).expect(200)).body;
    const res = await t.http
      .get(`/v1/audit/accounts/resident:anna/statement?from=${t0}&to=${t1}`)
      .set(auditor)
      .set('Accept', 'text/csv')
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const rows: Record<string, string>[] = parse(res.text, { columns: true });
    expect(rows[0]).toMatchObject({ type: 'opening balance', balance: json.openingBalance });
    expect(rows[rows.length - 1]).toMatchObject({ type: 'closing balance', balance: json.closingBalance });
    expect(
      rows.slice(1, -1).map((r) => ({ transactionId: r.transactionId, debit: r.debit, credit: r.credit, balance: r.balance })),
    ).toEqual(
      json.entries.map((e: { transactionId: string; debit?: string; credit?: string; balance: string }) => ({
        transactionId: e.transactionId,
        debit: e.debit ?? '',
        credit: e.credit ?? '',
        balance: e.balance,
      })),
    );
  });

  it('the journal can be searched by type and account, page by page', async () => {
    const earns = (await t.http.get('/v1/audit/transactions?type=earn&limit=2').set(auditor).expect(200)).body;
    expect(earns.items).toHaveLength(2);
    const next = (await t.http.get(`/v1/audit/transactions?type=earn&limit=2&cursor=${earns.nextCursor}`).set(auditor).expect(200)).body;
    expect(next.items).toHaveLength(2);
    expect(next.nextCursor).toBeNull();
    const cafe = (await t.http.get('/v1/audit/transactions?account=partner:cafe:redeemed').set(auditor).expect(200)).body;
    expect(cafe.items.map((i: { type: string }) => i.type)).toEqual(['redeem']);
    expect(cafe.items[0].postings).toEqual([
      { account: 'resident:anna', asset: 'POINTS', debit: '30', pending: false },
      { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '30', pending: false },
    ]);
    const byPartner = (await t.http.get('/v1/audit/transactions?partner=cafe').set(auditor).expect(200)).body;
    expect(byPartner.items.map((i: { id: string }) => i.id)).toEqual(cafe.items.map((i: { id: string }) => i.id));
    expect((await t.http.get('/v1/audit/transactions?source=votes').set(auditor).expect(200)).body.items).toEqual([]);
    expectProblem(await t.http.get('/v1/audit/transactions?from=yesterday').set(auditor), 400, 'validation_failed');
    expectProblem(await t.http.get('/v1/audit/transactions?partner=Bad%20Id').set(auditor), 400, 'validation_failed');
  });

  it('a transaction by id: its postings, and no earn event or redemption behind one written by hand', async () => {
    const [redeem] = (await t.http.get('/v1/audit/transactions?account=partner:cafe:redeemed').set(auditor).expect(200)).body.items;
    const traced = (await t.http.get(`/v1/audit/transactions/${redeem.id}`).set(auditor).expect(200)).body;
    expect(traced).toMatchObject({ id: redeem.id, type: 'redeem' });
    expect(traced).not.toHaveProperty('earnEvent');
    expect(traced).not.toHaveProperty('redemption');
    expectProblem(await t.http.get(`/v1/audit/transactions/${randomUUID()}`).set(auditor), 404, 'not_found');
  });

  it('auditors read but never write', async () => {
    expectProblem(
      await t.http.post('/v1/ledger/transactions').set(auditor).set('Idempotency-Key', randomUUID()).send({}),
      403,
      'forbidden',
    );
    expectProblem(await t.http.post('/v1/admin/adjustments').set(auditor).set('Idempotency-Key', randomUUID()).send({}), 403, 'forbidden');
    expectProblem(await t.http.post('/v1/admin/sources').set(auditor).send({ id: 'x', name: 'x' }), 403, 'forbidden');
    // from is optional (the first entry), but a from that is no date is refused
    expectProblem(await t.http.get('/v1/audit/accounts/resident:anna/statement?from=yesterday').set(auditor), 400, 'validation_failed');
  });
});
