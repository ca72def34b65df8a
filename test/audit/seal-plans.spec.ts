import { SEALING_PLANS_SQL, WINDOW_END_SQL } from '../../src/audit/seal.repository';
import { MAX_PER_SEAL, SealService } from '../../src/audit/seal.service';
import { startTestApp, TestApp } from '../support/app';

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] };

/**
 * Sealing after a burst: a prize day's award writes a million transactions in minutes, and the
 * tables' statistics still describe the journal of before it (autovacuum's ANALYZE comes later,
 * or never where it is off). The seal must walk its window along the created_at index anyway,
 * not read and sort the whole backlog once for every seal of 20,000.
 */
describe('sealing a backlog on outdated statistics', () => {
  let t: TestApp;
  const backlog = 2 * MAX_PER_SEAL + 5_000;

  beforeAll(async () => {
    t = await startTestApp();
    // statistics of a small journal, then the burst: transactions of the last ten minutes
    await t.prisma.$executeRawUnsafe('ANALYZE ledger_transactions, ledger_postings');
    await t.prisma.$executeRawUnsafe(`
      INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
      SELECT gen_random_uuid(), 'award', 'posted', jsonb_build_object('line', g), c, c
      FROM generate_series(1, ${backlog}) g, LATERAL (SELECT now() - interval '11 minutes' + g * interval '10 ms' AS c) x`);
  }, 120_000);

  afterAll(() => t.close());

  const planOf = async (settings: boolean): Promise<string[]> => {
    const until = new Date(Date.now() - 60_000);
    return t.prisma.$transaction(async (tx) => {
      if (settings) await tx.$executeRawUnsafe(SEALING_PLANS_SQL);
      const [{ 'QUERY PLAN': plan }] = await tx.$queryRawUnsafe<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(
        `EXPLAIN (FORMAT JSON) ${WINDOW_END_SQL}`,
        new Date(0),
        until,
        MAX_PER_SEAL + 1,
      );
      const nodes: string[] = [];
      const walk = (n: PlanNode) => {
        nodes.push(n['Node Type']);
        for (const child of n.Plans ?? []) walk(child);
      };
      walk(plan[0].Plan);
      return nodes;
    });
  };

  it('the outdated statistics mislead the planner: left to itself, it reads the whole backlog and sorts it', async () => {
    // the premise of the next test; if a PostgreSQL planned this well by itself, the settings would be moot
    const nodes = await planOf(false);
    expect(nodes.some((n) => /Sort|Seq Scan|Bitmap Heap Scan/.test(n))).toBe(true);
  });

  it('a seal’s window is found along the index: no sort, no sequential or bitmap scan', async () => {
    const nodes = await planOf(true);
    expect(nodes.filter((n) => /Sort|Seq Scan|Bitmap Heap Scan|Gather/.test(n))).toEqual([]);
    expect(nodes.some((n) => /Index (Only )?Scan/.test(n))).toBe(true);
  });

  it('the backlog is sealed in seals of at most 20,000, every transaction once, the chain intact', async () => {
    const seals = t.app.get(SealService);
    const last = await seals.seal();
    expect(last).not.toBeNull();
    const made = await t.prisma.ledgerSeal.findMany({ orderBy: { id: 'asc' } });
    expect(made.length).toBeGreaterThanOrEqual(3);
    expect(made.every((s) => s.transactions <= MAX_PER_SEAL)).toBe(true);
    const [{ sealed, distinct }] = await t.prisma.$queryRawUnsafe<{ sealed: number; distinct: number }[]>(
      'SELECT count(*)::int AS sealed, count(DISTINCT transaction_id)::int AS "distinct" FROM ledger_seal_entries',
    );
    const [{ due }] = await t.prisma.$queryRawUnsafe<{ due: number }[]>(
      'SELECT count(*)::int AS due FROM ledger_transactions WHERE created_at < $1',
      made[made.length - 1].coversTo,
    );
    expect(sealed).toBe(due);
    expect(distinct).toBe(due);
    expect(due).toBeGreaterThanOrEqual(backlog - 6_000);
    expect(await seals.brokenSeals()).toEqual([]);
  }, 120_000);
});
