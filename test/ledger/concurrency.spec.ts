import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { LedgerService } from '../../src/ledger/ledger.service';
import { ledgerViolations } from '../support/ledger-invariants';
import { startTestApp, TestApp } from '../support/app';

/** Many requests at once against one balance, one hold, one transaction. */
describe('the ledger under concurrency', () => {
  let t: TestApp;
  let ledger: LedgerService;

  beforeAll(async () => {
    t = await startTestApp({ DATABASE_POOL_SIZE: '20' });
    ledger = t.app.get(LedgerService);
  });

  afterAll(() => t.close());

  afterEach(async () => {
    expect(await ledgerViolations(t.prisma)).toEqual([]);
  });

  const resident = () => `c${randomUUID().slice(0, 8)}`;
  const key = () => ({ 'Idempotency-Key': randomUUID() });

  const grant = (residentId: string, amount: string) => t.grant(residentId, amount);

  const transfer = (from: string, to: string, amount: string, extra: object = {}) =>
    t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set(key())
      .send({
        type: 'transfer',
        postings: [
          { account: from, asset: 'POINTS', debit: amount },
          { account: to, asset: 'POINTS', credit: amount },
        ],
        ...extra,
      });

  const posted = async (account: string) => (await t.http.get(`/v1/ledger/accounts/${account}/balance`).set(t.admin).expect(200)).body;

  it('200 parallel debits of 10 against 1000: exactly 100 succeed, 100 are refused, the balance ends at 0', async () => {
    const anna = resident();
    await grant(anna, '1000');
    const answers = await Promise.all(Array.from({ length: 200 }, () => transfer(`resident:${anna}`, 'partner:cafe:redeemed', '10')));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    expect(statuses.filter((s) => s === 409)).toHaveLength(100);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'insufficient_points')).toBe(true);
    expect(await posted(`resident:${anna}`)).toMatchObject({ posted: '0', available: '0' });
    // the balance recorded after every one of the 100 debits was never below zero
    const after = await t.prisma.$queryRawUnsafe<{ min: string; n: number }[]>(
      `SELECT min(balance_after)::text AS min, count(*)::int AS n FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = $1`,
      `resident:${anna}`,
    );
    expect(after[0]).toEqual({ min: '0', n: 101 });
  });

  it('two residents sending points to each other at once never deadlock', async () => {
    const [a, b] = [resident(), resident()];
    await grant(a, '500');
    await grant(b, '500');
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0 ? transfer(`resident:${a}`, `resident:${b}`, '7') : transfer(`resident:${b}`, `resident:${a}`, '5'),
      ),
    );
    expect(answers.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const total = Number((await posted(`resident:${a}`)).posted) + Number((await posted(`resident:${b}`)).posted);
    expect(total).toBe(1000);
  });

  it('many earns against programme:issued at once all land, on its several balance rows', async () => {
    const residents = Array.from({ length: 60 }, resident);
    const answers = await Promise.all(residents.map((r) => transfer('programme:issued', `resident:${r}`, '20')));
    expect(answers.every((r) => r.status === 201)).toBe(true);
    for (const r of residents.slice(0, 5)) expect((await posted(`resident:${r}`)).posted).toBe('20');
    const shards = await t.prisma.$queryRawUnsafe<{ used: number }[]>(
      `SELECT count(*)::int AS used FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
       WHERE a.code = 'programme:issued' AND b.debits_posted > 0`,
    );
    expect(shards[0].used).toBeGreaterThan(1);
  });

  /** A session of its own holding these balance rows of programme:issued (FOR UPDATE) until released. */
  const holdIssuedRows = async (where: string) => {
    const session = new Client({ connectionString: t.databaseUrl });
    await session.connect();
    await session.query('BEGIN');
    await session.query(
      `SELECT 1 FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
       WHERE a.code = 'programme:issued' AND a.asset = 'POINTS' AND ${where} FOR UPDATE OF b`,
    );
    return async () => {
      await session.query('ROLLBACK');
      await session.end();
    };
  };
  const issuedShardOf = async (residentId: string) =>
    (
      await t.prisma.$queryRawUnsafe<{ shard: number }[]>(
        `SELECT p.shard FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
         WHERE a.code = 'programme:issued' AND p.transaction_id = (SELECT q.transaction_id FROM ledger_postings q
           JOIN ledger_accounts r ON r.id = q.account_id WHERE r.code = $1)`,
        `resident:${residentId}`,
      )
    ).map((r) => r.shard);

  it('a write to a sharded account takes a balance row no one holds rather than wait for a held one', async () => {
    await transfer('programme:issued', `resident:${resident()}`, '1').expect(201);
    const release = await holdIssuedRows('b.shard <> 7');
    try {
      const paul = resident();
      const answer = await Promise.race([
        transfer('programme:issued', `resident:${paul}`, '3'),
        new Promise<'waited'>((done) => setTimeout(() => done('waited'), 10_000)),
      ]);
      expect(answer === 'waited' ? answer : answer.status).toBe(201);
      expect(await issuedShardOf(paul)).toEqual([7]);
    } finally {
      await release();
    }
  });

  it('a write to a sharded account whose rows are all held waits for one, and then lands', async () => {
    await transfer('programme:issued', `resident:${resident()}`, '1').expect(201);
    const release = await holdIssuedRows('true');
    const rita = resident();
    let settled = false;
    const answer = transfer('programme:issued', `resident:${rita}`, '4').then((r) => {
      settled = true;
      return r;
    });
    await new Promise((done) => setTimeout(done, 500));
    expect(settled).toBe(false);
    await release();
    expect((await answer).status).toBe(201);
    expect(await issuedShardOf(rita)).toHaveLength(1);
    expect((await posted(`resident:${rita}`)).posted).toBe('4');
  });

  it('posts, voids and expiry racing for one hold: exactly one settles it', async () => {
    for (let round = 0; round < 5; round++) {
      const vera = resident();
      await grant(vera, '100');
      const expiresAt = new Date(Date.now() + 3600_000).toISOString();
      const hold = await transfer(`resident:${vera}`, 'partner:cafe:redeemed', '60', { pending: true, expiresAt }).expect(201);
      // the sweeper runs as if the hold's expiry had passed
      const sweeps = Array.from({ length: 4 }, () => ledger.expireHolds(new Date(Date.now() + 7200_000)));
      const requests = Array.from({ length: 16 }, (_, i) =>
        t.http
          .post(`/v1/ledger/transactions/${hold.body.id}/${i % 2 === 0 ? 'post' : 'void'}`)
          .set(t.admin)
          .send({}),
      );
      const [answers, expired] = await Promise.all([Promise.all(requests), Promise.all(sweeps)]);
      const expiredCount = expired.reduce((sum, n) => sum + n, 0);
      expect(answers.filter((a) => a.status === 200).length + expiredCount).toBe(1);
      expect(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'invalid_state')).toBe(true);
      const settlements = await t.prisma.ledgerTransaction.count({ where: { pendingId: hold.body.id } });
      expect(settlements).toBe(1);
      const balance = await posted(`resident:${vera}`);
      expect(['40', '100']).toContain(balance.posted);
      expect(balance.available).toBe(balance.posted);
    }
  });

  it('one transaction reversed by many at once is reversed once', async () => {
    const gleb = resident();
    const original = await grant(gleb, '30');
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => t.http.post(`/v1/ledger/transactions/${original.body.id}/reverse`).set(t.admin).send({})),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(11);
    expect((await posted(`resident:${gleb}`)).posted).toBe('0');
  });
});
