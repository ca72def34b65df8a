import { randomUUID } from 'node:crypto';
import { ReconciliationService } from '../../src/audit/reconciliation.service';
import { SealService } from '../../src/audit/seal.service';
import { BalanceCheckpointsService } from '../../src/ledger/balance-checkpoints.service';
import { expectProblem, startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait';

const utcMonth = (monthsAgo: number, day = 1, hour = 0) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - monthsAgo, day, hour));
};
/** the seeded history moves points from a programme pool to a partner's, another partner's and a charity's accounts */
const POOL = 'programme:testpool';
const FUNDS: Record<number, string> = { 1: 'partner:fund1:redeemed', 2: 'partner:fund2:points', 3: 'charity:fund3' };
const monthKey = (monthsAgo: number) => utcMonth(monthsAgo).toISOString().slice(0, 7);

interface Report {
  id: string;
  status: string;
  scope: string;
  retryOf: string | null;
  covered: {
    from: string | null;
    to: string;
    effectivelyFull: boolean;
    transactions: number;
    postings: number;
    accounts: number;
    seals: { first: string | null; last: string | null };
    months?: { verified: string[]; carriedOver: string[]; archived?: { month: string; transactions: number }[] };
  };
  checks: { name: string; passed: boolean; offending?: string[] }[];
}

/**
 * The nightly reconciliation reads what changed since the last passed run; the weekly full one
 * reads the whole journal month by month and goes on after a crash from the months it finished.
 * Balance checkpoints make a balance as of a moment start from the month before it, with results
 * identical to summing the journal from its beginning.
 */
describe('incremental and full reconciliation, balance checkpoints', () => {
  let t: TestApp;
  let auditor: { 'X-API-Key': string };
  /** the seeded history's postings, by month (3, 2, 1 months ago) */
  const oldPostings: Record<number, string> = {};

  beforeAll(async () => {
    t = await startTestApp();
    auditor = {
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'a', role: 'auditor' }).expect(201)).body.apiKey,
    };
    // Three months of history, written as the ledger would have written it then (the journal's
    // own functions stamp now()): transfers from a pool to three funds, one of them exactly at a
    // month's first instant, and a hold made in one month and settled in the next.
    const transfers: { at: Date; fund: number; amount: number; kind?: string; pendingOf?: string; id: string }[] = [];
    for (const ago of [3, 2, 1]) {
      transfers.push({ at: utcMonth(ago), fund: 1, amount: 11, id: randomUUID() });
      transfers.push({ at: utcMonth(ago, 10, 8), fund: 2, amount: 25, id: randomUUID() });
      transfers.push({ at: utcMonth(ago, 20, 17), fund: 3, amount: 40, id: randomUUID() });
    }
    const hold = { at: utcMonth(3, 15), fund: 1, amount: 7, kind: 'pending', id: randomUUID() };
    const settle = { at: utcMonth(2, 5), fund: 1, amount: 7, pendingOf: hold.id, id: randomUUID() };
    transfers.push(hold, settle);
    await t.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        VALUES ('${POOL}', 'POINTS', 'D', false, 1), ('${FUNDS[1]}', 'POINTS', 'C', false, 1),
               ('${FUNDS[2]}', 'POINTS', 'C', false, 1), ('${FUNDS[3]}', 'POINTS', 'C', false, 1)`);
      // the journal's months (partitions) for these moments, made before the load
      await tx.$executeRawUnsafe(`SELECT ledger_partitions_ensure($1, 4)`, utcMonth(3));
      await tx.$executeRawUnsafe('SET LOCAL session_replication_role = replica');
      for (const x of transfers) {
        await tx.$executeRawUnsafe(
          `INSERT INTO ledger_transactions (id, type, kind, pending_id, metadata, effective_at, created_at)
           VALUES ($1::uuid, 'transfer', $2, $3::uuid, '{}', $4, $4)`,
          x.id,
          x.kind ?? 'posted',
          x.pendingOf ?? null,
          x.at,
        );
        await tx.$executeRawUnsafe(
          `INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
           SELECT $1::uuid, a.id, 0, 'POINTS', CASE a.code WHEN '${POOL}' THEN 'D' ELSE 'C' END, $2, $3, $4
           FROM ledger_accounts a WHERE a.code IN ('${POOL}', $5) ORDER BY a.normal_side DESC`,
          x.id,
          x.amount,
          x.kind === 'pending',
          x.at,
          FUNDS[x.fund],
        );
      }
      // the id registry, which the journal's statement trigger fills (not fired in replica role)
      await tx.$executeRawUnsafe(
        `INSERT INTO ledger_transaction_ids (id, created_at, pending_id, reverses_id)
         SELECT id, created_at, pending_id, reverses_id FROM ledger_transactions WHERE id = ANY($1::uuid[])`,
        transfers.map((x) => x.id),
      );
      await tx.$executeRawUnsafe(
        `INSERT INTO account_balances (account_id, shard, normal_side, floor_zero, debits_posted, credits_posted)
        SELECT a.id, 0, a.normal_side, false,
               coalesce(sum(p.amount) FILTER (WHERE p.side = 'D' AND NOT p.pending), 0), coalesce(sum(p.amount) FILTER (WHERE p.side = 'C' AND NOT p.pending), 0)
        FROM ledger_accounts a JOIN ledger_postings p ON p.account_id = a.id WHERE a.code = ANY($1::text[]) GROUP BY a.id`,
        [POOL, ...Object.values(FUNDS)],
      );
    });
    for (const ago of [3, 2, 1]) {
      const [row] = await t.prisma.$queryRawUnsafe<{ id: bigint }[]>(
        `SELECT p.id FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
         WHERE a.code = '${FUNDS[2]}' AND p.created_at = $1`,
        utcMonth(ago, 10, 8),
      );
      oldPostings[ago] = row.id.toString();
    }
  });

  afterAll(() => t.close());

  const sealNow = () => t.app.get(SealService).seal(new Date());
  const run = async (scope?: 'incremental' | 'full'): Promise<Report> => {
    await sealNow();
    const started = await t.http
      .post('/v1/audit/reconciliations')
      .set(auditor)
      .send(scope ? { scope } : {})
      .expect(202);
    return waitFor(
      async () => {
        const r = (await t.http.get(`/v1/audit/reconciliations/${started.body.id}`).set(auditor).expect(200)).body as Report;
        return r.status === 'running' ? undefined : r;
      },
      60_000,
      'the reconciliation',
    );
  };
  const failed = (report: Report) =>
    report.checks
      .filter((c) => !c.passed)
      .map((c) => c.name)
      .sort();
  const grant = async (residentId: string, amount: string) =>
    (
      await t.http
        .post('/v1/admin/adjustments')
        .set(t.admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId, amount, reason: 'test' })
        .expect(201)
    ).body.id as string;
  /** Changes rows as an attacker with database access would: with the triggers off. */
  const tamper = async (table: string, sql: string) => {
    await t.prisma.$transaction([
      t.prisma.$executeRawUnsafe(`ALTER TABLE ${table} DISABLE TRIGGER USER`),
      t.prisma.$executeRawUnsafe(sql),
      t.prisma.$executeRawUnsafe(`ALTER TABLE ${table} ENABLE TRIGGER USER`),
    ]);
  };

  let first: Report;

  it('an incremental run with no passed run before it checks everything, month by month, and says so', async () => {
    first = await run();
    expect(first).toMatchObject({ status: 'passed', scope: 'incremental' });
    expect(first.covered).toMatchObject({ from: null, effectivelyFull: true, transactions: 11, postings: 22 });
    // the months with transactions (none yet this month)
    expect(first.covered.months!.verified).toEqual([monthKey(3), monthKey(2), monthKey(1)]);
    // the months that ended have their checkpoints, each from the one before
    const months = await t.prisma.ledgerCheckpointMonth.findMany({ orderBy: { asOf: 'asc' } });
    expect(months.map((m) => m.asOf.toISOString())).toEqual(expect.arrayContaining([utcMonth(2).toISOString(), utcMonth(1).toISOString()]));
    expect(first.checks.map((c) => c.name)).toContain('checkpoints_match_journal');
  });

  it('the next incremental run covers only what changed since the last passed one', async () => {
    await grant('nina', '30');
    const next = await run();
    expect(next).toMatchObject({ status: 'passed', scope: 'incremental' });
    expect(next.covered).toMatchObject({ from: first.covered.to, effectivelyFull: false, transactions: 1, postings: 2, accounts: 2 });
    expect(next.covered.months).toBeUndefined();
    expect(Number(next.covered.seals.first)).toBeGreaterThan(Number(first.covered.seals.last));
    // listed with its scope
    const list = (await t.http.get('/v1/audit/reconciliations').set(auditor).expect(200)).body;
    expect(list.items[0]).toMatchObject({ id: next.id, scope: 'incremental', covered: { transactions: 1 } });
  });

  it('a row changed in an old month passes the incremental run (outside its window) and fails the next full run, which names it', async () => {
    await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount + 1 WHERE id = ${oldPostings[2]}`);
    try {
      const nightly = await run();
      expect(nightly.status).toBe('passed'); // documented: the window is what changed since the last passed run
      const weekly = await run('full');
      expect(weekly).toMatchObject({ status: 'failed', scope: 'full' });
      expect(failed(weekly)).toEqual(expect.arrayContaining(['checkpoints_match_journal', 'seals_match_journal', 'transactions_balanced']));
      const balanced = weekly.checks.find((c) => c.name === 'transactions_balanced')!;
      expect(balanced.offending).toHaveLength(1);
      expect(weekly.checks.find((c) => c.name === 'checkpoints_match_journal')!.offending).toEqual(
        expect.arrayContaining([`${FUNDS[2]} at ${utcMonth(1).toISOString()}`]),
      );
    } finally {
      await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount - 1 WHERE id = ${oldPostings[2]}`);
    }
    expect((await run('full')).status).toBe('passed');
  });

  it('a row changed inside the window fails the incremental run', async () => {
    const tx = await grant('olga', '50');
    await sealNow();
    await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount + 5 WHERE transaction_id = '${tx}' AND side = 'C'`);
    try {
      const nightly = await run();
      expect(nightly.status).toBe('failed');
      expect(failed(nightly)).toEqual(expect.arrayContaining(['balances_match_postings', 'seals_match_journal', 'transactions_balanced']));
      expect(nightly.checks.find((c) => c.name === 'transactions_balanced')!.offending).toEqual([`transaction ${tx} (POINTS)`]);
    } finally {
      await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount - 5 WHERE transaction_id = '${tx}' AND side = 'C'`);
    }
    expect((await run()).status).toBe('passed');
  });

  it('a changed balance checkpoint fails the full run', async () => {
    const sql = (sign: string) =>
      `UPDATE ledger_balance_checkpoints SET credits_posted = credits_posted ${sign} 1
       WHERE as_of = '${utcMonth(2).toISOString()}' AND account_id = (SELECT id FROM ledger_accounts WHERE code = '${FUNDS[3]}')`;
    await t.prisma.$executeRawUnsafe(sql('+'));
    try {
      const weekly = await run('full');
      expect(failed(weekly)).toEqual(['checkpoints_match_journal']);
      expect(weekly.checks.find((c) => c.name === 'checkpoints_match_journal')!.offending).toEqual(
        expect.arrayContaining([`${FUNDS[3]} at ${utcMonth(2).toISOString()}`]),
      );
    } finally {
      await t.prisma.$executeRawUnsafe(sql('-'));
    }
  });

  it('a full run whose process died is run again from the months it had finished', async () => {
    const service = t.app.get(ReconciliationService);
    const dead = randomUUID();
    // it had finished the oldest month when its process stopped
    await t.prisma.reconciliation.create({
      data: {
        id: dead,
        trigger: 'scheduled',
        scope: 'full',
        status: 'running',
        holder: 'gone:1:abcd',
        heartbeatAt: new Date(Date.now() - 10 * 60_000),
        progress: { months: { [monthKey(3)]: [] } },
      },
    });
    await service.claimRuns();
    const reRun = await waitFor(
      async () => {
        const row = await t.prisma.reconciliation.findFirst({ where: { retryOf: dead } });
        return row && row.status !== 'running' ? row : undefined;
      },
      60_000,
      'the re-run',
    );
    expect(reRun).toMatchObject({ scope: 'full', status: 'passed' });
    const report = (await t.http.get(`/v1/audit/reconciliations/${reRun.id}`).set(auditor).expect(200)).body as Report;
    expect(report.covered.months).toEqual({
      carriedOver: [monthKey(3)],
      verified: expect.arrayContaining([monthKey(2), monthKey(1), monthKey(0)]),
    });
    expect(report.covered.months!.verified).not.toContain(monthKey(3));
    // every month that ended is in its stored progress, the carried one as it was
    const progress = reRun.progress as { months: Record<string, unknown[]> };
    expect(Object.keys(progress.months).sort()).toEqual([monthKey(3), monthKey(2), monthKey(1)].sort());
  });

  it('a run’s scope is incremental or full; anything else is refused and starts nothing', async () => {
    const before = await t.prisma.reconciliation.count();
    expectProblem(await t.http.post('/v1/audit/reconciliations').set(auditor).send({ scope: 'weekly' }), 400, 'validation_failed');
    expectProblem(await t.http.post('/v1/audit/reconciliations').set(auditor).send({ scope: 1 }), 400, 'validation_failed');
    expect(await t.prisma.reconciliation.count()).toBe(before);
  });

  it('balances, the trial balance, the liability and statements as of many moments are the same with and without checkpoints', async () => {
    const moments: Date[] = [];
    for (const ago of [3, 2, 1, 0]) {
      const start = utcMonth(ago);
      moments.push(new Date(start.getTime() - 1), start, new Date(start.getTime() + 1), utcMonth(ago, 10, 8), utcMonth(ago, 15, 12));
    }
    const now = new Date();
    moments.splice(0, moments.length, ...moments.filter((m) => m < now), now);
    const read = async () => {
      const out: unknown[] = [];
      for (const at of moments) {
        const asOf = at.toISOString();
        out.push((await t.http.get(`/v1/audit/trial-balance?asOf=${asOf}`).set(auditor).expect(200)).body);
        out.push((await t.http.get(`/v1/audit/liability?asOf=${asOf}`).set(auditor).expect(200)).body);
        for (const account of [POOL, FUNDS[1], FUNDS[2], FUNDS[3], 'resident:nina']) {
          out.push((await t.http.get(`/v1/ledger/accounts/${account}/balance?asset=POINTS&asOf=${asOf}`).set(auditor).expect(200)).body);
        }
        out.push(
          (
            await t.http
              .get(
                `/v1/audit/accounts/${FUNDS[1]}/statement?asset=POINTS&from=${new Date(at.getTime() - 40 * 86_400_000).toISOString()}&to=${asOf}`,
              )
              .set(auditor)
              .expect(200)
          ).body,
        );
      }
      return out;
    };
    await t.app.get(BalanceCheckpointsService).keepMonths();
    expect(await t.prisma.ledgerBalanceCheckpoint.count()).toBeGreaterThan(0);
    const withCheckpoints = await read();
    await t.prisma.$transaction([t.prisma.ledgerBalanceCheckpoint.deleteMany(), t.prisma.ledgerCheckpointMonth.deleteMany()]);
    const fromTheBeginning = await read();
    expect(withCheckpoints).toEqual(fromTheBeginning);
    // and they are made again, the same
    expect(await t.app.get(BalanceCheckpointsService).keepMonths()).toBeGreaterThanOrEqual(3);
    expect(await read()).toEqual(withCheckpoints);
  });

  it('a full run reports the archived (detached) months and passes over the months still attached', async () => {
    // the two oldest months archived as docs/operations.md says (their checkpoint at the end kept)
    const archived = [monthKey(3), monthKey(2)].map((k) => k.replace('-', 'm'));
    const parts = await t.prisma.$queryRawUnsafe<{ parent: string; name: string; from_at: Date; to_at: Date }[]>(
      `SELECT * FROM ledger_partitions() WHERE ${archived.map((k) => `name LIKE '%_y${k}'`).join(' OR ')}`,
    );
    expect(parts).toHaveLength(6);
    const sealsBefore = await t.prisma.ledgerSealEntry.count();
    await t.app.get(BalanceCheckpointsService).keepMonths();
    for (const p of parts) await t.prisma.$executeRawUnsafe(`ALTER TABLE ${p.parent} DETACH PARTITION ${p.name}`);
    try {
      const weekly = await run('full');
      expect(failed(weekly)).toEqual([]);
      expect(weekly.status).toBe('passed');
      // named, with their transactions as the id registry counts them (three transfers and the hold, three and its settlement)
      expect(weekly.covered.months!.archived).toEqual([
        { month: monthKey(3), transactions: 4 },
        { month: monthKey(2), transactions: 4 },
      ]);
      expect(weekly.covered.months!.verified).toEqual(expect.arrayContaining([monthKey(1), monthKey(0)]));
      expect(weekly.covered.months!.verified).not.toEqual(expect.arrayContaining([monthKey(3)]));
      expect(weekly.covered.months!.verified).not.toEqual(expect.arrayContaining([monthKey(2)]));
      // without the checkpoint at their end the balances cannot be proven: said, and failed
      const end = utcMonth(1);
      const month = await t.prisma.ledgerCheckpointMonth.findUniqueOrThrow({ where: { asOf: end } });
      const rows = await t.prisma.ledgerBalanceCheckpoint.findMany({ where: { asOf: end } });
      await t.prisma.$transaction([
        t.prisma.ledgerBalanceCheckpoint.deleteMany({ where: { asOf: end } }),
        t.prisma.ledgerCheckpointMonth.delete({ where: { asOf: end } }),
      ]);
      try {
        const unproven = await run('full');
        expect(failed(unproven)).toContain('balances_match_postings');
        expect(unproven.checks.find((c) => c.name === 'balances_match_postings')!.offending).toEqual(
          expect.arrayContaining([
            `the archived months end at ${end.toISOString()} with no balance checkpoint there: the balances cannot be proven`,
          ]),
        );
      } finally {
        await t.prisma.$transaction([
          t.prisma.ledgerCheckpointMonth.create({ data: month }),
          t.prisma.ledgerBalanceCheckpoint.createMany({ data: rows }),
        ]);
      }
      // their seal entries stay (the proofs), and the chain still verifies whole, also on its own (the CLI's verify-seals)
      expect(await t.prisma.ledgerSealEntry.count()).toBeGreaterThanOrEqual(sealsBefore);
      expect(await t.app.get(ReconciliationService).check('seals_match_journal')).toMatchObject({ passed: true });
      // a posting tampered with in an attached month is still caught, the archive notwithstanding
      await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount + 1 WHERE id = ${oldPostings[1]}`);
      try {
        const tampered = await run('full');
        expect(failed(tampered)).toEqual(
          expect.arrayContaining(['balances_match_postings', 'seals_match_journal', 'transactions_balanced']),
        );
      } finally {
        await tamper('ledger_postings', `UPDATE ledger_postings SET amount = amount - 1 WHERE id = ${oldPostings[1]}`);
      }
    } finally {
      for (const p of parts) {
        await t.prisma.$executeRawUnsafe(
          `ALTER TABLE ${p.parent} ATTACH PARTITION ${p.name} FOR VALUES FROM ('${p.from_at.toISOString()}') TO ('${p.to_at.toISOString()}')`,
        );
      }
    }
    const whole = await run('full');
    expect(whole.status).toBe('passed');
    expect(whole.covered.months!.archived).toBeUndefined();
  });
});
