import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { AwardsRepository } from '../../src/awards/awards.repository';
import { databaseErrorOf } from '../../src/infra/database/prisma.service';
import { RedemptionRepository } from '../../src/redemption/redemption.repository';
import { startTestApp, TestApp } from '../support/app';
import { ledgerViolations } from '../support/ledger-invariants';
import { waitUntilBlockedBy } from '../support/locks';
import { waitFor } from '../support/wait';

/**
 * The door's bound (a call whose postings come more than its bound after its start fails with
 * CL005 and writes nothing: docs/accounting.md) as the callers that run the door inside a
 * statement of their own meet it. The bound is the database's own setting here, 2.5 s, so
 * that it holds in every session of the service's pool; a resident's balance row held by another
 * session for longer than that makes the call pass it.
 */
describe('the door past its bound, inside other statements', () => {
  let t: TestApp;
  // long enough that no call of this app's other work (grants, the resumed chunk, the general
  // path) passes it on a loaded machine; the held row outlasts it by half a second
  const BOUND_MS = 2500;

  beforeAll(async () => {
    t = await startTestApp(
      { AWARD_LEASE_SECONDS: '5', AWARD_SWEEP_SECONDS: '1' },
      {},
      { 'civic.ledger_call_limit': `${BOUND_MS} milliseconds` },
    );
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'bound-coffee', kind: 'PROMO_CODE', title: 'Coffee', partnerId: 'cafe', pricePoints: '100', codeSource: 'GENERATED' })
      .expect(201);
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    expect(await ledgerViolations(t.prisma)).toEqual([]);
    await t.close();
  }, 60_000);

  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);
  const balance = async (residentId: string) =>
    (await t.http.get('/v1/me/balance').set(t.residentAuth(residentId)).expect(200)).body.available;

  /** Runs `during` while another session holds the resident's balance row, past the bound once something waits for it. */
  async function holdingRowOf<T>(residentId: string, during: () => Promise<T>): Promise<T> {
    const other = new Client({ connectionString: t.databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `SELECT 1 FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id WHERE a.code = $1 FOR UPDATE OF b`,
        [`resident:${residentId}`],
      );
      const running = during();
      running.catch(() => undefined); // awaited below; not unhandled if the wait times out first
      await waitUntilBlockedBy(t.prisma, other, 'a call to wait for the held row');
      await new Promise((resolve) => setTimeout(resolve, BOUND_MS + 500));
      await other.query('ROLLBACK');
      return await running;
    } finally {
      await other.end();
    }
  }

  it('a one-statement redemption past the bound goes the general path: one redemption, charged once', async () => {
    const rita = `bound${randomUUID().slice(0, 8)}`;
    await grant(rita, '250');
    const oneStatement = jest.spyOn(t.app.get(RedemptionRepository), 'redeemInOneStatement');
    const res = await holdingRowOf(rita, () =>
      t.http
        .post('/v1/me/redemptions')
        .set(t.residentAuth(rita))
        .set('Idempotency-Key', randomUUID())
        .send({ itemId: 'bound-coffee' })
        .then((r) => r),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'completed', pointsSpent: '100', balanceAfter: '150' });
    // the statement was tried, met the bound (CL005: it wrote nothing) and handed over
    expect(oneStatement).toHaveBeenCalledTimes(1);
    await expect(oneStatement.mock.results[0].value).resolves.toBeNull();
    oneStatement.mockRestore();
    expect(await t.prisma.redemption.count({ where: { residentId: rita } })).toBe(1);
    expect(await t.prisma.idempotencyKey.count({ where: { scope: `resident:${rita}` } })).toBe(1);
    expect(await balance(rita)).toBe('150');
  });

  it('an award chunk past the bound is rolled back and run again: every row credited once, none failed', async () => {
    const held = `bound${randomUUID().slice(0, 8)}`;
    await grant(held, '1');
    // a first award opens the programme's account: a chunk then goes in one statement (award_credit_chunk)
    const opening = await t.http
      .post('/v1/admin/awards?description=Opening')
      .set(t.admin)
      .set('Content-Type', 'text/csv')
      .send(`${held}o,1\n`)
      .expect(202);
    await t.http.post(`/v1/admin/awards/${opening.body.id}/execute`).set(t.admin).expect(202);
    await waitFor(
      async () => (await t.http.get(`/v1/admin/awards/${opening.body.id}`).set(t.admin).expect(200)).body.status === 'done',
      20_000,
      'the opening award',
    );
    const chunks = jest.spyOn(t.app.get(AwardsRepository), 'creditChunk');
    // the service's own path for a chunk (a resident in debt, or a refusal row by row) starts with this lock
    const servicePath = jest.spyOn(t.app.get(AwardsRepository), 'lockDebtPayments');
    const upload = await t.http
      .post('/v1/admin/awards?description=Past%20the%20bound')
      .set(t.admin)
      .set('Content-Type', 'text/csv')
      .send(`${held},5\n${held}b,6\n${held}c,7\n`)
      .expect(202);
    const id = upload.body.id as string;
    // (the execution goes on in the background: the answer comes at once, its chunk then waits)
    const started = await holdingRowOf(held, () =>
      t.http
        .post(`/v1/admin/awards/${id}/execute`)
        .set(t.admin)
        .then((r) => r),
    );
    expect(started.status).toBe(202);
    const award = async () => (await t.http.get(`/v1/admin/awards/${id}`).set(t.admin).expect(200)).body;
    await waitFor(async () => (await award()).status === 'done', 30_000, 'the award to be resumed and done');
    // a chunk met the bound: thrown, not gone row by row (which recorded each row failed). (The
    // executor's lanes ask for chunks at once: the one that took the rows is not always the first.)
    const outcomes = await Promise.all(
      chunks.mock.results.map((r) =>
        (r.value as Promise<unknown>).then(
          () => 'settled',
          (error: unknown) => databaseErrorOf(error).sqlState,
        ),
      ),
    );
    const servicePathCalls = servicePath.mock.calls.length;
    chunks.mockRestore();
    servicePath.mockRestore();
    expect(outcomes).toContain('CL005');
    expect(servicePathCalls).toBe(0);
    expect(await award()).toMatchObject({ credited: 3, failed: 0, creditedPoints: '18' });
    const [credits] = await t.prisma.$queryRawUnsafe<{ n: number; lines: number }[]>(
      `SELECT count(*)::int AS n, count(DISTINCT metadata->>'line')::int AS lines
       FROM ledger_transactions WHERE type = 'award' AND metadata->>'awardId' = $1`,
      id,
    );
    expect(credits).toEqual({ n: 3, lines: 3 });
    expect([await balance(held), await balance(`${held}b`), await balance(`${held}c`)]).toEqual(['6', '6', '7']);
  });
});
