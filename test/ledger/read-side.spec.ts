import { randomUUID } from 'node:crypto';
import { LedgerReadService } from '../../src/ledger/ledger-read.service';
import { Prisma } from '../../src/generated/prisma/client';
import { BALANCE_SUMS_SQL, postingsOfSql } from '../../src/ledger/ledger-read.repository';
import { expectProblem, startTestApp, TestApp } from '../support/app';

/** The ledger's read side: what audit, residents and the public statistics read of the journal. */
describe('the ledger read side', () => {
  let t: TestApp;
  let auditor: { 'X-API-Key': string };

  beforeAll(async () => {
    t = await startTestApp();
    auditor = {
      'X-API-Key': (await t.http.post('/v1/admin/api-clients').set(t.admin).send({ name: 'a', role: 'auditor' }).expect(201)).body.apiKey,
    };
  });

  afterAll(() => t.close());

  const move = (type: string, postings: { account: string; debit?: string; credit?: string }[], pending = false) =>
    t.http
      .post('/v1/ledger/transactions')
      .set(t.admin)
      .set('Idempotency-Key', randomUUID())
      .send({ type, pending, postings: postings.map((p) => ({ asset: 'POINTS', ...p })) })
      .expect(201);
  const earn = (residentId: string, amount: string) =>
    move('earn', [
      { account: 'programme:issued', debit: amount },
      { account: `resident:${residentId}`, credit: amount },
    ]);
  const spend = (residentId: string, payee: string, amount: string) =>
    move('redeem', [
      { account: `resident:${residentId}`, debit: amount },
      { account: payee, credit: amount },
    ]);
  const search = async (query: string) =>
    ((await t.http.get(`/v1/audit/transactions?${query}`).set(auditor).expect(200)).body.items as { id: string }[]).map((i) => i.id).sort();

  it('a partner filter selects that partner’s accounts only: a "_" in its id is no wildcard', async () => {
    // "a_b" as a LIKE pattern (partner:a_b:%) would also match partner:axb:…, another partner's accounts
    await earn('reader', '100');
    const own = (await spend('reader', 'partner:a_b:redeemed', '10')).body.id as string;
    const ownFund = (await spend('reader', 'charity:a_b', '5')).body.id as string;
    const other = (await spend('reader', 'partner:axb:redeemed', '20')).body.id as string;
    const otherFees = (await spend('reader', 'partner:axb:fees', '1')).body.id as string;
    const otherFund = (await spend('reader', 'charity:axb', '2')).body.id as string;

    expect(await search('partner=a_b')).toEqual([own, ownFund].sort());
    expect(await search('partner=axb')).toEqual([other, otherFees, otherFund].sort());
    // a partner id that is a prefix of another's is not that other partner
    expect(await search('partner=a')).toEqual([]);
    // "%" is not in a partner id at all
    expectProblem(await t.http.get('/v1/audit/transactions?partner=a%25b').set(auditor), 400, 'validation_failed');
  });

  it('a resident’s balance is composed once: available (posted less holds), pending (on its way), debt', async () => {
    const resident = `r-${randomUUID().slice(0, 8)}`;
    await earn(resident, '100');
    await move(
      'redeem',
      [
        { account: `resident:${resident}`, debit: '20' },
        { account: 'partner:cafe:redeemed', credit: '20' },
      ],
      true,
    );
    await move(
      'earn',
      [
        { account: 'programme:issued', debit: '50' },
        { account: `resident:${resident}`, credit: '50' },
      ],
      true,
    );
    await move('earn.revoked', [
      { account: `resident:${resident}:debt`, debit: '25' },
      { account: 'programme:issued', credit: '25' },
    ]);

    const expected = { residentId: resident, available: '80', pending: '50', debt: '25' };
    expect((await t.http.get('/v1/me/balance').set(t.residentAuth(resident)).expect(200)).body).toEqual({ ...expected, expiring: [] });
    const reads = t.app.get(LedgerReadService);
    const [read] = [...(await reads.residentBalances([resident, resident])).values()];
    expect({
      residentId: read.residentId,
      available: read.available.toFixed(),
      pending: read.pending.toFixed(),
      debt: read.debt.toFixed(),
    }).toEqual(expected);
    expect((await reads.residentDebts([resident])).get(resident)!.toFixed()).toBe('25');

    // someone the ledger never saw: zero everywhere, not absent
    const stranger = await reads.residentBalance('never-seen');
    expect([stranger.available.toFixed(), stranger.pending.toFixed(), stranger.debt.toFixed()]).toEqual(['0', '0', '0']);
  });

  it('public statistics count partners’ redeemed accounts, charity funds and residents’ own accounts by kind', async () => {
    // from the tests above: 100 + 100 issued, 25 of it revoked into debt; spent with partners 10 + 20 (+ 20 held),
    // donated 5 + 2; the 1 to partner:axb:fees is no redemption, and the debt account is no resident balance
    const stats = (await t.http.get('/v1/public/stats').expect(200)).body;
    expect(stats).toMatchObject({
      issued: '175',
      redeemed: '30',
      donated: [
        { fundId: 'a_b', points: '5' },
        { fundId: 'axb', points: '2' },
      ],
      outstanding: '162',
      residentsWithBalance: 2,
    });
  });

  it('a resident’s balance is read by its keys however outdated the statistics (a bulk award opens accounts by the million; last: its accounts stay)', async () => {
    const resident = `r-${randomUUID().slice(0, 8)}`;
    await earn(resident, '7');
    // statistics taken while the tables were small, then 60,000 accounts opened with their
    // balance rows, as an award's chunks open them (autovacuum off, or not there yet)
    await t.prisma.$executeRawUnsafe('ANALYZE ledger_accounts, account_balances');
    await t.prisma.$executeRawUnsafe(`
      WITH a AS (
        INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        SELECT 'resident:opened-' || g, 'POINTS', 'C', true, 1 FROM generate_series(1, 60000) g
        RETURNING id, normal_side, floor_zero)
      INSERT INTO account_balances (account_id, shard, normal_side, floor_zero) SELECT id, 0, normal_side, floor_zero FROM a`);

    const [{ 'QUERY PLAN': plan }] = await t.prisma.$queryRawUnsafe<{ 'QUERY PLAN': unknown }[]>(
      `EXPLAIN (FORMAT JSON) ${BALANCE_SUMS_SQL}`,
      [`resident:${resident}`, `resident:${resident}:debt`],
      'POINTS',
    );
    const nodes: string[] = [];
    const walk = (n: { 'Node Type': string; 'Relation Name'?: string; Plans?: unknown[] }) => {
      nodes.push(`${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`);
      for (const child of n.Plans ?? []) walk(child as typeof n);
    };
    walk((plan as { Plan: Parameters<typeof walk>[0] }[])[0].Plan);
    // no balance row or account read but by its key: no scan of either table, no parallel workers
    expect(nodes.filter((n) => /Seq Scan|Gather/.test(n))).toEqual([]);
    expect((await t.http.get('/v1/me/balance').set(t.residentAuth(resident)).expect(200)).body).toMatchObject({ available: '7' });
  });
  it('a journal page probes its transactions’ postings by id in a month never analysed (autovacuum late or off)', async () => {
    // a month far ahead, made and filled inside a transaction that is then rolled back: 100,000
    // postings the planner has no statistics of, as a month's partition has until it is analysed
    const month = new Date(Date.UTC(new Date().getUTCFullYear() + 5, 0, 1));
    const within = new Date(month.getTime() + 86_400_000);
    const explain = (sql: Prisma.Sql) => Prisma.sql`EXPLAIN (FORMAT JSON) ${sql}`;
    const ids = Array.from({ length: 100 }, () => randomUUID());
    const plans: unknown[] = [];
    await t.prisma
      .$transaction(async (tx) => {
        await tx.$executeRawUnsafe('SELECT ledger_partitions_ensure($1, 1)', month);
        await tx.$executeRawUnsafe('SET LOCAL session_replication_role = replica');
        await tx.$executeRawUnsafe(
          `INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
           SELECT gen_random_uuid(), (SELECT min(id) FROM ledger_accounts), 0, 'POINTS', 'C', 1, false, $1
           FROM generate_series(1, 100000)`,
          within,
        );
        const [{ 'QUERY PLAN': plan }] = await tx.$queryRaw<{ 'QUERY PLAN': unknown }[]>(
          explain(postingsOfSql(ids, month, new Date(within.getTime() + 1))),
        );
        plans.push(plan);
        // the same read joined, as it was: the planner reads the month whole
        const [{ 'QUERY PLAN': joined }] = await tx.$queryRaw<{ 'QUERY PLAN': unknown }[]>(
          explain(Prisma.sql`SELECT p.transaction_id::text, a.code FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
            WHERE p.transaction_id = ANY(${ids}::uuid[]) AND p.created_at >= ${month} AND p.created_at <= ${within} ORDER BY p.id`),
        );
        plans.push(joined);
        throw new Error('rolled back');
      })
      .catch((error: Error) => expect(error.message).toBe('rolled back'));
    const nodesOf = (plan: unknown) => {
      const nodes: string[] = [];
      const walk = (n: { 'Node Type': string; 'Relation Name'?: string; Plans?: unknown[] }) => {
        nodes.push(`${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`);
        for (const child of n.Plans ?? []) walk(child as typeof n);
      };
      walk((plan as { Plan: Parameters<typeof walk>[0] }[])[0].Plan);
      return nodes;
    };
    expect(nodesOf(plans[1]).filter((n) => /Seq Scan on ledger_postings/.test(n))).not.toEqual([]);
    expect(nodesOf(plans[0]).filter((n) => /Seq Scan|Gather/.test(n))).toEqual([]);
    expect(await t.prisma.$queryRawUnsafe('SELECT 1 FROM ledger_postings WHERE created_at >= $1 LIMIT 1', month)).toEqual([]);
  });
});
