import { randomUUID } from 'node:crypto';
import { ReconciliationService } from '../../src/audit/reconciliation.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** The nightly reconciliation proves the books, and fails loudly, naming the rows, when they do not add up. */
describe('reconciliation', () => {
  let t: TestApp;
  let auditor: { 'X-API-Key': string };
  let grantTx: string;

  beforeAll(async () => {
    t = await startTestApp();
    auditor = {
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'a', role: 'auditor' }).expect(201)).body.apiKey,
    };
    // a little of everything: a grant, a spend, a hold, a redemption with a code
    const grant = await t.http
      .post('/v1/admin/adjustments')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ residentId: 'anna', amount: '500', reason: 'opening' })
      .expect(201);
    grantTx = grant.body.id;
    await t.http.post('/v1/admin/partners').set(t.admin).send({ id: 'cafe', name: 'Cafe', kind: 'cafe' }).expect(201);
    await t.http
      .post('/v1/admin/catalogue-items')
      .set(t.admin)
      .send({ id: 'tea', kind: 'PROMO_CODE', title: 'Tea', partnerId: 'cafe', pricePoints: '50', codeSource: 'GENERATED' })
      .expect(201);
    await t.http
      .post('/v1/me/redemptions')
      .set(t.residentAuth('anna'))
      .set('Idempotency-Key', randomUUID())
      .send({ itemId: 'tea' })
      .expect(201);
    await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'redeem',
        pending: true,
        postings: [
          { account: 'resident:anna', asset: 'POINTS', debit: '40' },
          { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '40' },
        ],
      })
      .expect(201);
  });

  afterAll(() => t.close());

  // these scenarios tamper with rows made before earlier runs: the full run is the one that reads them
  // (test/audit/incremental.spec.ts says what an incremental run catches)
  const run = async () => {
    const started = await t.http.post('/v1/audit/reconciliations').set(auditor).send({ scope: 'full' }).expect(202);
    return waitFor(
      async () => {
        const r = (await t.http.get(`/v1/audit/reconciliations/${started.body.id}`).set(auditor).expect(200)).body;
        return r.status === 'running' ? undefined : r;
      },
      20_000,
      'the reconciliation',
    );
  };
  // the run's row is stored before its process sets the gauge: a poll may see the one before the other
  const metricShows = (line: RegExp) =>
    waitFor(
      async () => (line.test((await t.http.get('/metrics').expect(200)).text) ? true : undefined),
      5_000,
      `the metric ${line.source}`,
    );
  const failed = (report: { checks: { name: string; passed: boolean }[] }) =>
    report.checks
      .filter((c) => !c.passed)
      .map((c) => c.name)
      .sort();

  /** Changes journal rows as an attacker with database access would: with the triggers off. */
  const tamper = async (sql: string) => {
    await t.prisma.$transaction([
      t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings DISABLE TRIGGER USER'),
      t.prisma.$executeRawUnsafe(sql),
      t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings ENABLE TRIGGER USER'),
    ]);
  };

  it('passes on clean books, with every check named, and lists the run', async () => {
    const report = await run();
    expect(report).toMatchObject({ status: 'passed', trigger: 'manual', finishedAt: expect.any(String) });
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      'trial_balance_zero',
      'transactions_balanced',
      'balances_match_postings',
      'postings_reference',
      'no_negative_balances',
      'earn_events_processed',
      'codes_match_redemptions',
      'expired_holds_released',
      'lots_match_balances',
      'open_holds_match_journal',
      'seals_match_journal',
      'checkpoints_match_journal',
      'seal_chain_intact',
    ]);
    const list = (await t.http.get('/v1/audit/reconciliations').set(auditor).expect(200)).body;
    expect(list.items[0].id).toBe(report.id);
  });

  it('a posting changed in the database fails the run and names its transaction', async () => {
    await tamper(`UPDATE ledger_postings SET amount = amount + 1 WHERE transaction_id = '${grantTx}' AND side = 'C'`);
    try {
      const report = await run();
      expect(report.status).toBe('failed');
      expect(failed(report)).toEqual(['balances_match_postings', 'transactions_balanced', 'trial_balance_zero']);
      const balanced = report.checks.find((c: { name: string }) => c.name === 'transactions_balanced');
      expect(balanced.offending).toEqual([`transaction ${grantTx} (POINTS)`]);
      expect(report.checks.find((c: { name: string }) => c.name === 'balances_match_postings').offending).toEqual(['resident:anna row 0']);
      // loud: the metric an operator alerts on (set once the stored report is read back, so waited for)
      await metricShows(/^civic_reconciliation_failed 1$/m);
    } finally {
      await tamper(`UPDATE ledger_postings SET amount = amount - 1 WHERE transaction_id = '${grantTx}' AND side = 'C'`);
    }
    expect((await run()).status).toBe('passed');
    await metricShows(/^civic_reconciliation_failed 0$/m);
  });

  it('a transaction in two assets is balanced per asset: amounts moved between its assets are named', async () => {
    const both = await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'transfer',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '7' },
          { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '7' },
          { account: 'programme:issued', asset: 'RUB', debit: '10.50' },
          { account: 'partner:cafe:redeemed', asset: 'RUB', credit: '10.50' },
        ],
      })
      .expect(201);
    expect((await run()).status).toBe('passed');
    // the transaction's signed sum stays zero: only a per-asset sum sees this
    const shift = (d: number) => `UPDATE ledger_postings SET amount = amount + CASE asset WHEN 'POINTS' THEN ${d} ELSE ${-d} END
      WHERE transaction_id = '${both.body.id}' AND side = 'C'`;
    await tamper(shift(1));
    try {
      const report = await run();
      expect(failed(report)).toEqual(['balances_match_postings', 'transactions_balanced', 'trial_balance_zero']);
      expect(report.checks.find((c: { name: string }) => c.name === 'transactions_balanced').offending).toEqual([
        `transaction ${both.body.id} (POINTS, RUB)`,
      ]);
    } finally {
      await tamper(shift(-1));
    }
    expect((await run()).status).toBe('passed');
  });

  it('a stored balance changed behind the ledger’s back fails balances_match_postings', async () => {
    await t.prisma.$executeRawUnsafe(
      `UPDATE account_balances SET credits_posted = credits_posted + 1000 WHERE account_id = (SELECT id FROM ledger_accounts WHERE code = 'resident:anna')`,
    );
    try {
      // the lots no longer cover the stored balance either
      expect(failed(await run())).toEqual(['balances_match_postings', 'lots_match_balances']);
    } finally {
      await t.prisma.$executeRawUnsafe(
        `UPDATE account_balances SET credits_posted = credits_posted - 1000 WHERE account_id = (SELECT id FROM ledger_accounts WHERE code = 'resident:anna')`,
      );
    }
  });

  it("a lot changed behind the ledger's back fails lots_match_balances and names the account and the lot", async () => {
    const [{ id: lot }] = await t.prisma.$queryRawUnsafe<{ id: bigint }[]>(
      `SELECT l.id FROM ledger_lots l JOIN ledger_accounts a ON a.id = l.account_id WHERE a.code = 'resident:anna' AND l.remaining > 0 ORDER BY l.id LIMIT 1`,
    );
    await t.prisma.$executeRawUnsafe(`UPDATE ledger_lots SET remaining = remaining - 1 WHERE id = ${lot}`);
    try {
      const report = await run();
      expect(failed(report)).toEqual(['lots_match_balances']);
      const offending: string[] = report.checks.find((c: { name: string }) => c.name === 'lots_match_balances').offending;
      expect(offending).toEqual(
        expect.arrayContaining([expect.stringMatching(/^account resident:anna: balance /), expect.stringMatching(/^lot \d+: remaining /)]),
      );
    } finally {
      await t.prisma.$executeRawUnsafe(`UPDATE ledger_lots SET remaining = remaining + 1 WHERE id = ${lot}`);
    }
    expect((await run()).status).toBe('passed');
  });

  it('a deleted posting fails postings_reference or the balance checks', async () => {
    const ids = await t.prisma.$queryRawUnsafe<{ id: bigint }[]>(
      `SELECT id FROM ledger_postings WHERE transaction_id = '${grantTx}' AND side = 'D'`,
    );
    await tamper(`UPDATE ledger_postings SET account_id = 999999 WHERE id = ${ids[0].id}`);
    try {
      const report = await run();
      expect(failed(report)).toContain('postings_reference');
      expect(report.checks.find((c: { name: string }) => c.name === 'postings_reference').offending).toEqual([`posting ${ids[0].id}`]);
    } finally {
      await tamper(
        `UPDATE ledger_postings SET account_id = (SELECT id FROM ledger_accounts WHERE code = 'programme:adjustments') WHERE id = ${ids[0].id}`,
      );
    }
  });

  it('postings whose transaction row was deleted fail postings_reference, which names them', async () => {
    const gone = await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'transfer',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '3' },
          { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '3' },
        ],
      })
      .expect(201);
    const postings = await t.prisma.$queryRawUnsafe<{ id: bigint }[]>(
      `SELECT id FROM ledger_postings WHERE transaction_id = '${gone.body.id}' ORDER BY id`,
    );
    const rows = (sql: string) =>
      t.prisma.$transaction([
        // the reference from earn events is checked at commit: checked at once, ALTER TABLE may follow
        t.prisma.$executeRawUnsafe('SET CONSTRAINTS ALL IMMEDIATE'),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transactions DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(sql),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transactions ENABLE TRIGGER USER'),
      ]);
    await t.prisma.$executeRawUnsafe(`CREATE TABLE deleted_transaction AS SELECT * FROM ledger_transactions WHERE id = '${gone.body.id}'`);
    await rows(`DELETE FROM ledger_transactions WHERE id = '${gone.body.id}'`);
    try {
      const report = await run();
      expect(failed(report)).toContain('postings_reference');
      // and the id registry names a transaction the journal no longer has
      expect(report.checks.find((c: { name: string }) => c.name === 'postings_reference').offending.sort()).toEqual(
        [...postings.map((p) => `posting ${p.id}`), `transaction ${gone.body.id} of the id registry is not in the journal`].sort(),
      );
    } finally {
      await rows(`INSERT INTO ledger_transactions OVERRIDING SYSTEM VALUE SELECT * FROM deleted_transaction`);
      await t.prisma.$executeRawUnsafe('DROP TABLE deleted_transaction');
    }
    expect((await run()).status).toBe('passed');
  });

  it('the list of open holds differing from the journal fails open_holds_match_journal, which names the hold', async () => {
    const hold = await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'redeem',
        pending: true,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        postings: [
          { account: 'resident:anna', asset: 'POINTS', debit: '25' },
          { account: 'partner:cafe:redeemed', asset: 'POINTS', credit: '25' },
        ],
      })
      .expect(201);
    const id: string = hold.body.id;
    expect((await run()).status).toBe('passed');
    const listed = await t.prisma.$queryRawUnsafe<{ account_id: bigint; shard: number; side: string; amount: string; expires_at: Date }[]>(
      `SELECT account_id, shard, side, amount::text AS amount, expires_at FROM ledger_open_holds WHERE transaction_id = '${id}' ORDER BY side`,
    );
    expect(listed.map((r) => [r.side, r.amount])).toEqual([
      ['C', '25'],
      ['D', '25'],
    ]);
    const anna = `(SELECT id FROM ledger_accounts WHERE code = 'resident:anna')`;
    const offending = async () => {
      const report = await run();
      expect(failed(report)).toEqual(['open_holds_match_journal']);
      return report.checks.find((c: { name: string }) => c.name === 'open_holds_match_journal').offending as string[];
    };
    const restore = async () => {
      await t.prisma.$executeRawUnsafe(`DELETE FROM ledger_open_holds WHERE transaction_id = '${id}'`);
      for (const r of listed)
        await t.prisma.$executeRawUnsafe(
          `INSERT INTO ledger_open_holds (transaction_id, account_id, shard, side, amount, expires_at) VALUES ($1::uuid, $2, $3, $4, $5::numeric, $6)`,
          id,
          r.account_id,
          r.shard,
          r.side,
          r.amount,
          r.expires_at,
        );
    };
    try {
      // dropped from the list: its expiry would never be swept nor subtracted from reads
      await t.prisma.$executeRawUnsafe(`DELETE FROM ledger_open_holds WHERE transaction_id = '${id}' AND account_id = ${anna}`);
      expect(await offending()).toEqual([`hold ${id} on resident:anna row ${listed[1].shard} D: open in the journal, not listed`]);
      await restore();
      // its amount changed
      await t.prisma.$executeRawUnsafe(`UPDATE ledger_open_holds SET amount = 250 WHERE transaction_id = '${id}' AND account_id = ${anna}`);
      expect(await offending()).toEqual([
        expect.stringMatching(new RegExp(`^hold ${id} on resident:anna row \\d+ D: listed as 250 until .*, the journal says 25 until`)),
      ]);
      await restore();
      // a hold the journal does not have (here: the grant, which is posted)
      await t.prisma.$executeRawUnsafe(
        `INSERT INTO ledger_open_holds (transaction_id, account_id, shard, side, amount, expires_at) SELECT '${grantTx}', ${anna}, 0, 'D', 1, now()`,
      );
      expect(await offending()).toEqual([`hold ${grantTx} on resident:anna row 0 D: listed, not open in the journal`]);
    } finally {
      await t.prisma.$executeRawUnsafe(`DELETE FROM ledger_open_holds WHERE transaction_id = '${grantTx}'`);
      await restore();
    }
    expect((await run()).status).toBe('passed');
    // settled: gone from the list, and the books still agree
    await t.http.post(`/v1/ledger/transactions/${id}/void`).set(t.admin).set('Idempotency-Key', randomUUID()).expect(200);
    expect(await t.prisma.$queryRawUnsafe(`SELECT 1 FROM ledger_open_holds WHERE transaction_id = '${id}'`)).toEqual([]);
    expect((await run()).status).toBe('passed');
  });

  it('an accepted earn event left unprocessed fails earn_events_processed', async () => {
    await t.prisma.source.create({ data: { id: 'votes', name: 'Votes' } });
    await t.prisma.$executeRawUnsafe(
      `INSERT INTO earn_events (id, source_id, external_id, type, resident_id, occurred_at, requested_status, status, received_at)
       VALUES (gen_random_uuid(), 'votes', 'stuck-1', 'vote.cast', 'anna', now(), 'confirmed', 'received', now() - interval '1 hour')`,
    );
    try {
      const report = await run();
      expect(failed(report)).toEqual(['earn_events_processed']);
      expect(report.checks.find((c: { name: string }) => c.name === 'earn_events_processed').offending).toEqual([
        'event votes/stuck-1 received',
      ]);
    } finally {
      await t.prisma.$executeRawUnsafe(`DELETE FROM earn_events WHERE external_id = 'stuck-1'`);
    }
  });

  it('a code that does not fit its redemption fails codes_match_redemptions', async () => {
    await t.prisma.$executeRawUnsafe(`UPDATE item_codes SET status = 'cancelled'`);
    try {
      expect(failed(await run())).toEqual(['codes_match_redemptions']);
    } finally {
      await t.prisma.$executeRawUnsafe(`UPDATE item_codes SET status = 'issued'`);
    }
  });

  it('the schedule runs once even when several replicas fire at the same moment', async () => {
    const service = t.app.get(ReconciliationService);
    const firedAt = new Date();
    const runs = await Promise.all([service.runScheduled(firedAt), service.runScheduled(firedAt), service.runScheduled(firedAt)]);
    expect(runs.filter((r) => r !== null)).toHaveLength(1);
    expect(runs.find((r) => r)!.status).toBe('passed');
    expect(await t.prisma.reconciliation.count({ where: { trigger: 'scheduled' } })).toBe(1);
  });

  it('is read by auditors and admins only; an unknown run is 404', async () => {
    const partner = (
      await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'p', role: 'partner', partnerId: 'cafe' }).expect(201)
    ).body.apiKey;
    expectProblem(await t.http.post('/v1/audit/reconciliations').set('X-API-Key', partner), 403, 'forbidden');
    expectProblem(await t.http.get(`/v1/audit/reconciliations/${randomUUID()}`).set(auditor), 404, 'not_found');
  });
});
