import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SealRepository } from '../../src/audit/seal.repository';
import { SealService } from '../../src/audit/seal.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

const root = join(__dirname, '..', '..');

/** The journal is tamper-evident: sealed, chained, provable offline, and a change is found. */
describe('sealed journal', () => {
  let t: TestApp;
  let seals: SealService;
  let auditor: { 'X-API-Key': string };
  const ids: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    seals = t.app.get(SealService);
    auditor = {
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'a', role: 'auditor' }).expect(201)).body.apiKey,
    };
    for (let i = 0; i < 5; i++) {
      const res = await t.http
        .post('/v1/ledger/transactions')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({
          type: 'earn',
          postings: [
            { account: 'programme:issued', asset: 'POINTS', debit: `${10 + i}` },
            { account: `resident:s${i}`, asset: 'POINTS', credit: `${10 + i}` },
          ],
        })
        .expect(201);
      ids.push(res.body.id);
    }
  });

  afterAll(() => t.close());

  const reconcile = async () => {
    // these scenarios change sealed rows that an earlier run verified: the full run reads them
    // (test/audit/incremental.spec.ts: what an incremental run catches)
    const started = await t.http.post('/v1/audit/reconciliations').set(auditor).send({ scope: 'full' }).expect(202);
    return waitFor(async () => {
      const r = (await t.http.get(`/v1/audit/reconciliations/${started.body.id}`).set(auditor).expect(200)).body;
      return r.status === 'running' ? undefined : r;
    });
  };
  const verifyOffline = (proof: object) => {
    const file = join(tmpdir(), `proof-${randomUUID()}.json`);
    writeFileSync(file, JSON.stringify(proof));
    return spawnSync(process.execPath, [join(root, 'scripts', 'verify-proof.js'), file], { encoding: 'utf8' });
  };

  it('seals chain the transactions; a proof verifies offline with the documented script', async () => {
    const first = await seals.seal(new Date(Date.now() + 1));
    expect(first).toMatchObject({ transactions: 5, previousHash: '0'.repeat(64) });
    await t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({
        type: 'earn',
        postings: [
          { account: 'programme:issued', asset: 'POINTS', debit: '1' },
          { account: 'resident:late', asset: 'POINTS', credit: '1' },
        ],
      })
      .expect(201);
    const second = await seals.seal(new Date(Date.now() + 1));
    expect(second).toMatchObject({ transactions: 1, previousHash: first!.hash });

    const listed = (await t.http.get('/v1/audit/seals').set(auditor).expect(200)).body;
    expect(listed.items.map((s: { id: string }) => s.id)).toEqual(['2', '1']);

    for (const id of ids) {
      const proof = (await t.http.get(`/v1/audit/transactions/${id}/proof`).set(auditor).expect(200)).body;
      expect(proof.seal.id).toBe('1');
      const check = verifyOffline(proof);
      expect(check.stdout).toContain('verified');
      expect(check.status).toBe(0);
      // a forged amount in the content no longer verifies
      const forged = verifyOffline({ ...proof, canonical: proof.canonical.replace(/:C:(\d+):/, ':C:9$1:') });
      expect(forged.status).toBe(1);
    }
    expect((await reconcile()).status).toBe('passed');
  });

  it("a seal hashes each transaction of its window as ledger_transaction_hash does, in the seals' order", async () => {
    const from = new Date(0);
    const to = new Date(Date.now() + 1);
    const expected = await t.prisma.$queryRawUnsafe<{ hash: string }[]>(
      'SELECT ledger_transaction_hash(id) AS hash FROM ledger_transactions WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id',
      from,
      to,
    );
    expect(expected.length).toBeGreaterThanOrEqual(6);
    const repository = t.app.get(SealRepository);
    expect(await repository.windowHashes(from, to)).toBe(expected.map((e) => e.hash).join(''));
    // a window of more than `max` ends at the millisecond of the first transaction past it
    const [fourth] = await t.prisma.$queryRawUnsafe<{ end: Date; before: number }[]>(
      `SELECT date_trunc('milliseconds', created_at) AS end,
              (SELECT count(*)::int FROM ledger_transactions b WHERE b.created_at < date_trunc('milliseconds', x.created_at)) AS before
       FROM ledger_transactions x ORDER BY created_at, id OFFSET 3 LIMIT 1`,
    );
    expect(await repository.windowEnd(from, to, 3)).toEqual({ coversTo: fourth.end, transactions: fourth.before });
    expect(await repository.windowEnd(from, to, 1000)).toEqual({ coversTo: to, transactions: expected.length });
  });

  it('a sealed posting changed in the database (triggers off) fails the next reconciliation, naming the transaction', async () => {
    await t.prisma.$transaction([
      t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings DISABLE TRIGGER USER'),
      t.prisma.$executeRawUnsafe(`UPDATE ledger_postings SET amount = amount + 100 WHERE transaction_id = '${ids[2]}'`),
      t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings ENABLE TRIGGER USER'),
    ]);
    try {
      const report = await reconcile();
      expect(report.status).toBe('failed');
      const seal = report.checks.find((c: { name: string }) => c.name === 'seals_match_journal');
      expect(seal).toMatchObject({ passed: false, offending: [`transaction ${ids[2]} changed since seal 1`] });
      // balanced as a whole, the change is seen only by the seal and the stored balances
      expect(report.checks.find((c: { name: string }) => c.name === 'transactions_balanced').passed).toBe(true);
    } finally {
      await t.prisma.$transaction([
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(`UPDATE ledger_postings SET amount = amount - 100 WHERE transaction_id = '${ids[2]}'`),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_postings ENABLE TRIGGER USER'),
      ]);
    }
    expect((await reconcile()).status).toBe('passed');
  });

  it('a transaction slipped into a sealed window fails the next reconciliation, naming it', async () => {
    const seal = await t.prisma.ledgerSeal.findUniqueOrThrow({ where: { id: 1n } });
    const slipped = randomUUID();
    // just before the window's end (its start is the Unix epoch: no month of the journal holds it)
    const inside = new Date(seal.coversTo.getTime() - 1);
    await t.prisma.$executeRaw`
      INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
      VALUES (${slipped}::uuid, 'earn', 'posted', '{}', ${inside}, ${inside})`;
    try {
      const report = await reconcile();
      expect(report.status).toBe('failed');
      expect(report.checks.find((c: { name: string }) => c.name === 'seals_match_journal')).toMatchObject({
        passed: false,
        offending: [`transaction ${slipped} missing from seal 1`],
      });
    } finally {
      await t.prisma.$transaction([
        // the earn events' reference to transactions is checked at commit: here, at once, so
        // that nothing is pending when the triggers are switched back on
        t.prisma.$executeRawUnsafe('SET CONSTRAINTS ALL IMMEDIATE'),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transactions DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(`DELETE FROM ledger_transactions WHERE id = '${slipped}'`),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transactions ENABLE TRIGGER USER'),
        // and its row in the id registry, which its insert made
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transaction_ids DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(`DELETE FROM ledger_transaction_ids WHERE id = '${slipped}'`),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_transaction_ids ENABLE TRIGGER USER'),
      ]);
    }
    expect((await reconcile()).status).toBe('passed');
  });

  it('a forged seal breaks the chain', async () => {
    const change = (sql: string) =>
      t.prisma.$transaction([
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_seals DISABLE TRIGGER USER'),
        t.prisma.$executeRawUnsafe(sql),
        t.prisma.$executeRawUnsafe('ALTER TABLE ledger_seals ENABLE TRIGGER USER'),
      ]);
    const original = await t.prisma.ledgerSeal.findUniqueOrThrow({ where: { id: 1n } });
    await change(`UPDATE ledger_seals SET transactions = 4 WHERE id = 1`);
    try {
      const report = await reconcile();
      expect(report.checks.find((c: { name: string }) => c.name === 'seal_chain_intact')).toMatchObject({
        passed: false,
        offending: ['seal 1'],
      });
    } finally {
      await change(`UPDATE ledger_seals SET transactions = ${original.transactions} WHERE id = 1`);
    }
  });

  it('the journal and the seals refuse UPDATE and DELETE', async () => {
    // (row triggers: each table has rows here, or a refusal would not be tried at all)
    for (const [table, column] of [
      ['ledger_transactions', 'description'],
      ['ledger_postings', 'amount'],
      ['ledger_seals', 'transactions'],
      ['ledger_seal_entries', 'hash'],
    ]) {
      const [{ n }] = await t.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
      expect({ table, rows: n > 0 }).toEqual({ table, rows: true });
      await expect(t.prisma.$executeRawUnsafe(`DELETE FROM ${table}`)).rejects.toThrow(/append-only/);
      await expect(t.prisma.$executeRawUnsafe(`UPDATE ${table} SET ${column} = ${column}`)).rejects.toThrow(/append-only/);
    }
  });

  it('a transaction not sealed yet has no proof: 404', async () => {
    expectProblem(await t.http.get(`/v1/audit/transactions/${randomUUID()}/proof`).set(auditor), 404, 'not_found');
  });
});
