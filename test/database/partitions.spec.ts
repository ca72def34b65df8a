import { randomUUID } from 'node:crypto';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/app.setup';
import { CHECKS, JOURNAL_PASS } from '../../src/audit/reconciliation.checks';
import { ReconciliationService } from '../../src/audit/reconciliation.service';
import { Database, openPostgres } from '../../src/infra/database/database';
import { applyMigrations, readMigrations, SqlSession } from '../../src/infra/database/migrator';
import { JournalPartitionsJob, monthsAhead } from '../../src/ledger/journal-partitions.job';
import { JournalPartitionsRepository } from '../../src/ledger/journal-partitions.repository';
import { testConfig } from '../support/app';
import { createTestDatabase, dropTestDatabase } from '../support/services';

const PARTITIONS = '20261203000000_journal_partitions';
const migrations = readMigrations();
const before = migrations.filter((m) => m.name < PARTITIONS);

type Row = Record<string, unknown>;

/**
 * Every reconciliation check, run as the service runs it (no parallel workers), on one session: the
 * offences. Before the conversion the id registry the conversion makes does not exist yet: the
 * parts that check it run only after.
 */
async function offences(s: SqlSession): Promise<string[]> {
  await s.query('SET max_parallel_workers_per_gather = 0');
  const [{ registry }] = await s.query<{ registry: boolean }>(`SELECT to_regclass('ledger_transaction_ids') IS NOT NULL AS registry`);
  const found: string[] = [];
  const parts = [...JOURNAL_PASS, ...CHECKS.flatMap((c) => c.parts)];
  for (const part of parts.filter((p) => registry || !p.text.includes('ledger_transaction_ids'))) {
    const rows = await s.query<{ what: string; check?: string }>(part.text, part.values);
    found.push(...rows.map((r) => `${r.check ?? ''} ${r.what}`));
  }
  return found;
}

/** What the conversion must keep: every journal row, the balances and where the identities stand. */
async function snapshot(s: SqlSession): Promise<Row> {
  const one = async (sql: string) => (await s.query(sql))[0];
  return {
    transactions: await s.query(`SELECT id::text, seq::text, type, kind, pending_id::text, reverses_id::text, expires_at, metadata,
                                        description, effective_at, created_at FROM ledger_transactions ORDER BY seq`),
    postings: await s.query(`SELECT id::text, transaction_id::text, account_id::text, shard, asset, side, amount::text, pending,
                                    balance_after::text, created_at FROM ledger_postings ORDER BY id`),
    lotMoves: await s.query(
      `SELECT id::text, transaction_id::text, lot_id::text, amount::text, created_at FROM ledger_lot_moves ORDER BY id`,
    ),
    balances: await s.query(`SELECT account_id::text, shard, debits_posted::text, credits_posted::text, debits_pending::text,
                                    credits_pending::text, next_expiry FROM account_balances ORDER BY 1, 2`),
    sequences: {
      seq: await one(`SELECT last_value::text, is_called FROM ${await serial(s, 'ledger_transactions', 'seq')}`),
      postings: await one(`SELECT last_value::text, is_called FROM ${await serial(s, 'ledger_postings', 'id')}`),
      lotMoves: await one(`SELECT last_value::text, is_called FROM ${await serial(s, 'ledger_lot_moves', 'id')}`),
    },
  };
}

async function serial(s: SqlSession, table: string, column: string): Promise<string> {
  const [row] = await s.query<{ name: string }>('SELECT pg_get_serial_sequence($1, $2) AS name', [table, column]);
  return row.name;
}

/**
 * The journal converted in place into monthly partitions: a database populated through the
 * ledger's door over several months before the migration keeps every row, balance and sequence,
 * passes every reconciliation check before and after, writes land in their month, months are
 * made ahead, the constraints that moved to the id registry still refuse, and a row tampered
 * with in an old month or in today's is caught by the reconciliation.
 */
describe('journal partitioned by month', () => {
  let name: string;
  let url: string;
  let db: Database;
  const accounts = new Map<string, string>();
  const ids: string[] = [];
  let app: NestExpressApplication | undefined;

  const session = <T>(fn: (s: SqlSession) => Promise<T>) => db.withSession(fn);

  /** One transaction through ledger_record (as the service calls it). */
  async function record(
    s: SqlSession,
    t: { type: string; kind?: string; pendingId?: string; reversesId?: string; expiresAt?: Date; creditExpiresAt?: Date },
    postings: [string, 'D' | 'C', string][],
  ): Promise<string> {
    const id = randomUUID();
    await s.query(
      `SELECT * FROM ledger_record($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::timestamptz[], $7::jsonb[],
         $8::text[], $9::timestamptz[], $10::timestamptz[], $11::int[], $12::bigint[], $13::smallint[], $14::text[], $15::text[],
         $16::numeric[], '{}'::bigint[])`,
      [
        [id],
        [t.type],
        [t.kind ?? 'posted'],
        [t.pendingId ?? null],
        [t.reversesId ?? null],
        [t.expiresAt ?? null],
        [null],
        [null],
        [null],
        [t.creditExpiresAt ?? null],
        postings.map(() => 1),
        postings.map(([account]) => accounts.get(account)),
        postings.map(() => null),
        postings.map(() => 'POINTS'),
        postings.map(([, side]) => side),
        postings.map(([, , amount]) => amount),
      ],
    );
    ids.push(id);
    return id;
  }

  beforeAll(async () => {
    ({ name, url } = await createTestDatabase());
    db = openPostgres({ url });
    await session((s) => applyMigrations(s, before));
    await session(async (s) => {
      for (const [code, side, floor, shards] of [
        ['programme:issued', 'D', false, 4],
        ['resident:anna', 'C', true, 1],
        ['resident:bob', 'C', true, 1],
        ['partner:cafe:redeemed', 'C', false, 1],
      ] as const) {
        const [row] = await s.query<{ id: string }>(
          `INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ($1, 'POINTS', $2, $3, $4) RETURNING id::text`,
          [code, side, floor, shards],
        );
        accounts.set(code, row.id);
        await s.query(
          `INSERT INTO account_balances (account_id, shard, normal_side, floor_zero) SELECT $1, g, $2, $3 FROM generate_series(0, $4 - 1) g`,
          [row.id, side, floor, shards],
        );
      }
      const inAYear = new Date(Date.now() + 365 * 86_400_000);
      const inAMonth = new Date(Date.now() + 30 * 86_400_000);
      await record(s, { type: 'earn', creditExpiresAt: inAYear }, [
        ['programme:issued', 'D', '100'],
        ['resident:anna', 'C', '100'],
      ]);
      await record(s, { type: 'earn' }, [
        ['programme:issued', 'D', '50'],
        ['resident:bob', 'C', '50'],
      ]);
      const revoked = await record(s, { type: 'earn' }, [
        ['programme:issued', 'D', '70'],
        ['resident:anna', 'C', '70'],
      ]);
      await record(s, { type: 'redeem' }, [
        ['resident:anna', 'D', '30'],
        ['partner:cafe:redeemed', 'C', '30'],
      ]);
      const posted = await record(s, { type: 'redeem', kind: 'pending', expiresAt: inAMonth }, [
        ['resident:bob', 'D', '20'],
        ['partner:cafe:redeemed', 'C', '20'],
      ]);
      await record(s, { type: 'redeem', pendingId: posted }, [
        ['resident:bob', 'D', '20'],
        ['partner:cafe:redeemed', 'C', '20'],
      ]);
      const voided = await record(s, { type: 'redeem', kind: 'pending', expiresAt: inAMonth }, [
        ['resident:anna', 'D', '10'],
        ['partner:cafe:redeemed', 'C', '10'],
      ]);
      await record(s, { type: 'redeem', kind: 'void', pendingId: voided }, []);
      await record(s, { type: 'earn.revoke', reversesId: revoked }, [
        ['resident:anna', 'D', '70'],
        ['programme:issued', 'C', '70'],
      ]);
      await record(s, { type: 'earn' }, [
        ['programme:issued', 'D', '40'],
        ['resident:bob', 'C', '40'],
      ]);
      await record(s, { type: 'redeem', kind: 'pending', expiresAt: inAMonth }, [
        ['resident:anna', 'D', '5'],
        ['partner:cafe:redeemed', 'C', '5'],
      ]);
      // spread over five months, in order: the first two four months ago ... the last two now
      const monthsBack = [4, 4, 3, 3, 2, 2, 1, 1, 1, 0, 0];
      await s.query('SET session_replication_role = replica');
      for (const [i, id] of ids.entries()) {
        const shift = `interval '${monthsBack[i]} months'`;
        await s.query(
          `UPDATE ledger_transactions SET created_at = created_at - ${shift}, effective_at = effective_at - ${shift} WHERE id = $1`,
          [id],
        );
        for (const table of ['ledger_postings', 'ledger_lot_moves', 'ledger_lots']) {
          await s.query(`UPDATE ${table} SET created_at = created_at - ${shift} WHERE transaction_id = $1`, [id]);
        }
      }
      await s.query('SET session_replication_role = origin');
    });
  });

  afterAll(async () => {
    await app?.close();
    await db.close();
    await dropTestDatabase(name);
  });

  it('converts a populated journal in place: every row, balance and sequence kept, every check passing before and after', async () => {
    const [kept, clean] = await session(async (s) => [await snapshot(s), await offences(s)]);
    expect(clean).toEqual([]);
    expect((kept.transactions as Row[]).length).toBe(11);
    const months = await session((s) =>
      s.query<{ n: string }>(`SELECT count(DISTINCT date_trunc('month', created_at))::text AS n FROM ledger_postings`),
    );
    expect(Number(months[0].n)).toBe(5);

    const report = await session((s) => applyMigrations(s));
    expect(report.applied).toEqual(migrations.filter((m) => m.name >= PARTITIONS).map((m) => m.name));

    const [after, stillClean, kinds] = await session(async (s) => [
      await snapshot(s),
      await offences(s),
      await s.query<{ relname: string; relkind: string }>(
        `SELECT relname, relkind::text FROM pg_class WHERE relname IN ('ledger_transactions', 'ledger_postings', 'ledger_lot_moves') ORDER BY 1`,
      ),
    ]);
    expect(kinds.map((k) => k.relkind)).toEqual(['p', 'p', 'p']);
    expect(after).toEqual(kept);
    expect(stillClean).toEqual([]);
  });

  it('every row is in the partition of its month, and months are ready ahead', async () => {
    await session(async (s) => {
      for (const table of ['ledger_transactions', 'ledger_postings', 'ledger_lot_moves']) {
        const misplaced = await s.query(
          `SELECT tableoid::regclass::text AS part, created_at FROM ${table}
           WHERE tableoid::regclass::text <> $1 || to_char(created_at AT TIME ZONE 'UTC', '"_y"YYYY"m"MM')`,
          [table],
        );
        expect(misplaced).toEqual([]);
      }
      const partitions = (
        await s.query<{ parent: string; name: string; from_at: Date; to_at: Date }>(`SELECT * FROM ledger_partitions()`)
      ).map((p) => ({ table: p.parent, name: p.name, from: p.from_at, to: p.to_at }));
      // five months of history, the current one and three ahead, for each of the three tables
      expect(partitions).toHaveLength(3 * (5 + 3));
      expect(monthsAhead(partitions)).toBe(3);
    });
  });

  it('new writes land in the current month and the identities go on where they were', async () => {
    await session(async (s) => {
      const [last] = await s.query<{ seq: string; posting: string }>(
        `SELECT (SELECT max(seq) FROM ledger_transactions)::text AS seq, (SELECT max(id) FROM ledger_postings)::text AS posting`,
      );
      const id = await record(s, { type: 'redeem' }, [
        ['resident:bob', 'D', '7'],
        ['partner:cafe:redeemed', 'C', '7'],
      ]);
      const [row] = await s.query<{ part: string; seq: string; current: string }>(
        `SELECT tableoid::regclass::text AS part, seq::text, 'ledger_transactions' || to_char(now() AT TIME ZONE 'UTC', '"_y"YYYY"m"MM') AS current
         FROM ledger_transactions WHERE id = $1`,
        [id],
      );
      expect(row.part).toBe(row.current);
      expect(BigInt(row.seq)).toBe(BigInt(last.seq) + 1n);
      const postings = await s.query<{ part: string; id: string }>(
        `SELECT tableoid::regclass::text AS part, id::text FROM ledger_postings WHERE transaction_id = $1 ORDER BY id`,
        [id],
      );
      expect(postings.map((p) => p.part)).toEqual([
        row.current.replace('transactions', 'postings'),
        row.current.replace('transactions', 'postings'),
      ]);
      expect(BigInt(postings[0].id)).toBeGreaterThan(BigInt(last.posting));
      const moves = await s.query<{ part: string }>(
        `SELECT tableoid::regclass::text AS part FROM ledger_lot_moves WHERE transaction_id = $1`,
        [id],
      );
      expect(moves.length).toBeGreaterThan(0);
      expect(new Set(moves.map((m) => m.part))).toEqual(new Set([row.current.replace('transactions', 'lot_moves')]));
      expect(await offences(s)).toEqual([]);
    });
  });

  it('a transaction id, a settlement and a reversal stay unique across months, and references are checked', async () => {
    const oldest = ids[0];
    const refusal = (sql: string, params: unknown[] = [], setup: string[] = []) =>
      session(async (s) => {
        await s.query('BEGIN');
        try {
          for (const statement of setup) await s.query(statement);
          await s.query(sql, params);
          await s.query('SET CONSTRAINTS ALL IMMEDIATE');
          return null;
        } catch (error) {
          const e = error as { code?: string; constraint?: string };
          return { code: e.code, constraint: e.constraint };
        } finally {
          await s.query('ROLLBACK');
        }
      });
    const insert = `INSERT INTO ledger_transactions (id, type, kind, pending_id, reverses_id, metadata, effective_at, created_at)
                    VALUES ($1, 'earn', $2, $3, $4, '{}', now(), now())`;
    // the same id as a transaction four months old, written now (another partition)
    expect(await refusal(insert, [oldest, 'posted', null, null])).toEqual({ code: '23505', constraint: 'ledger_transaction_ids_pkey' });
    // a hold settled months ago, settled again now; an earn reversed months ago, reversed again now
    const settled = ids[4];
    const reversed = ids[2];
    expect(await refusal(insert, [randomUUID(), 'void', settled, null])).toEqual({
      code: '23505',
      constraint: 'ledger_transactions_settles_once',
    });
    expect(await refusal(insert, [randomUUID(), 'posted', null, reversed])).toEqual({
      code: '23505',
      constraint: 'ledger_transactions_reversed_once',
    });
    // dangling references: a settlement of nothing, a redemption or an earn event naming no transaction
    expect(await refusal(insert, [randomUUID(), 'void', randomUUID(), null])).toMatchObject({ code: '23503' });
    expect(
      await refusal(
        `INSERT INTO redemptions (id, resident_id, item_id, kind, quantity, points_spent, status, transaction_id)
         VALUES (gen_random_uuid(), 'anna', 'i', 'TICKET', 1, 1, 'completed', gen_random_uuid())`,
        [],
        [
          `INSERT INTO partners (id, name, kind) VALUES ('p', 'P', 'cafe')`,
          `INSERT INTO catalogue_items (id, kind, title, partner_id, price_points, code_source) VALUES ('i', 'TICKET', 'T', 'p', 1, 'GENERATED')`,
        ],
      ),
    ).toMatchObject({ code: '23503', constraint: 'redemptions_transaction_id_fkey' });
    expect(
      await refusal(
        `INSERT INTO earn_events (id, source_id, external_id, type, resident_id, occurred_at, requested_status, status, transaction_id)
         VALUES (gen_random_uuid(), 's', 'x', 'visit', 'anna', now(), 'confirmed', 'posted', gen_random_uuid())`,
        [],
        [`INSERT INTO sources (id, name) VALUES ('s', 'S')`],
      ),
    ).toMatchObject({ code: '23503', constraint: 'earn_events_transaction_id_fkey' });
    // the earn events' reference is still checked at commit (the earn batch writes the event first)
    const [deferred] = await session((s) =>
      s.query<{ condeferred: boolean }>(`SELECT condeferred FROM pg_constraint WHERE conname = 'earn_events_transaction_id_fkey'`),
    );
    expect(deferred.condeferred).toBe(true);
  });

  it('every partition, old or new, refuses UPDATE, DELETE and TRUNCATE', async () => {
    const refused = (sql: string) =>
      session(async (s) => {
        try {
          await s.query(sql);
          return 'done';
        } catch (error) {
          return (error as Error).message;
        }
      });
    const [old] = await session((s) =>
      s.query<{ part: string; posting: string }>(
        `SELECT tableoid::regclass::text AS part, id::text AS posting FROM ledger_postings WHERE transaction_id = $1 LIMIT 1`,
        [ids[0]],
      ),
    );
    expect(await refused(`UPDATE ledger_postings SET amount = amount + 1 WHERE id = ${old.posting}`)).toMatch(/append-only/);
    expect(await refused(`UPDATE ${old.part} SET amount = amount + 1 WHERE id = ${old.posting}`)).toMatch(/append-only/);
    expect(await refused(`DELETE FROM ${old.part.replace('postings', 'transactions')}`)).toMatch(/append-only/);
    const [moves] = await session((s) =>
      s.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM ledger_lot_moves ORDER BY created_at LIMIT 1`),
    );
    expect(await refused(`DELETE FROM ${moves.part}`)).toMatch(/append-only/);
    expect(await refused(`TRUNCATE ${old.part}`)).toMatch(/append-only/);
    expect(await refused(`TRUNCATE ledger_transactions CASCADE`)).toMatch(/append-only/);
    expect(await refused(`DELETE FROM ledger_transaction_ids`)).toMatch(/append-only/);
    // a month made later by the service carries the same triggers
    await session((s) => s.query(`SELECT ledger_partitions_ensure(now() + interval '8 months', 0)`));
    const [later] = await session((s) =>
      s.query<{ name: string }>(`SELECT name FROM ledger_partitions() WHERE parent = 'ledger_postings' ORDER BY from_at DESC LIMIT 1`),
    );
    expect(await refused(`TRUNCATE ${later.name}`)).toMatch(/append-only/);
    expect(await refused(`DELETE FROM ${later.name}`)).toBe('done'); // empty: the row trigger has nothing to refuse
  });

  it('the service keeps the months ahead, and the reconciliation catches a posting tampered with in an old month and in today’s', async () => {
    app = await createApp(testConfig({ DATABASE_URL: url, RECONCILE_CRON: '0 0 1 1 *' }));
    const job = app.get(JournalPartitionsJob);
    await job.keep();
    expect(monthsAhead(await app.get(JournalPartitionsRepository).list())).toBeGreaterThanOrEqual(3);

    const reconciliation = app.get(ReconciliationService);
    let minute = 0;
    // a full run: an incremental one reads only what changed since the last passed run
    const run = () => reconciliation.runScheduled(new Date(Date.UTC(2001, 0, 1, 0, minute++)), 'full');
    expect((await run())?.status).toBe('passed');

    const [oldTx, todayTx] = [ids[0], ids[9]];
    const postingOf = async (id: string) =>
      (
        await session((s) =>
          s.query<{ part: string; id: string }>(
            `SELECT tableoid::regclass::text AS part, id::text FROM ledger_postings WHERE transaction_id = $1 AND side = 'C'`,
            [id],
          ),
        )
      )[0];
    const oldPosting = await postingOf(oldTx);
    const todayPosting = await postingOf(todayTx);
    expect(oldPosting.part).not.toBe(todayPosting.part);
    /** As a superuser would: the partition's trigger off, the amount changed, the trigger on again. */
    const tamper = (p: { part: string; id: string }, delta: number) =>
      session(async (s) => {
        await s.query('BEGIN');
        await s.query(`ALTER TABLE ${p.part} DISABLE TRIGGER USER`);
        await s.query(`UPDATE ${p.part} SET amount = amount + ${delta} WHERE id = ${p.id}`);
        await s.query(`ALTER TABLE ${p.part} ENABLE TRIGGER USER`);
        await s.query('COMMIT');
      });
    await tamper(oldPosting, 1);
    await tamper(todayPosting, 1);
    try {
      const report = await run();
      expect(report?.status).toBe('failed');
      const balanced = report!.checks.find((c) => c.name === 'transactions_balanced');
      expect([...(balanced?.offending ?? [])].sort()).toEqual([`transaction ${oldTx} (POINTS)`, `transaction ${todayTx} (POINTS)`].sort());
    } finally {
      await tamper(oldPosting, -1);
      await tamper(todayPosting, -1);
    }
    expect((await run())?.status).toBe('passed');
  });

  it('a posting moved off its transaction’s moment, and a transaction missing from the id registry, are caught', async () => {
    const reconciliation = app!.get(ReconciliationService);
    let minute = 30;
    const full = () => reconciliation.runScheduled(new Date(Date.UTC(2001, 0, 1, 0, minute++)), 'full');
    const incremental = () => reconciliation.runScheduled(new Date(Date.UTC(2001, 0, 1, 0, minute++)));
    const tx = ids[9];
    const [posting] = await session((s) =>
      s.query<{ part: string; id: string }>(
        `SELECT tableoid::regclass::text AS part, id::text FROM ledger_postings WHERE transaction_id = $1 AND side = 'C'`,
        [tx],
      ),
    );
    const [registered] = await session((s) =>
      // as text: a Date would drop the microseconds
      s.query<{ created_at: string }>(`SELECT created_at::text FROM ledger_transaction_ids WHERE id = $1`, [tx]),
    );
    /** As a superuser would: every trigger off (the append-only ones and the references'), for one statement. */
    const asSuperuser = (_table: string, sql: string) =>
      session(async (s) => {
        await s.query('BEGIN');
        await s.query('SET LOCAL session_replication_role = replica');
        await s.query(sql);
        await s.query('COMMIT');
      });
    const offences = (report: Awaited<ReturnType<typeof full>>) => report?.checks.find((c) => c.name === 'postings_reference')?.offending;
    await asSuperuser(
      posting.part,
      `UPDATE ${posting.part} SET created_at = created_at + interval '1 microsecond' WHERE id = ${posting.id}`,
    );
    try {
      expect(offences(await full())).toEqual([`posting ${posting.id}`]);
    } finally {
      await asSuperuser(
        posting.part,
        `UPDATE ${posting.part} SET created_at = created_at - interval '1 microsecond' WHERE id = ${posting.id}`,
      );
    }
    await asSuperuser('ledger_transaction_ids', `DELETE FROM ledger_transaction_ids WHERE id = '${tx}'`);
    try {
      expect(offences(await full())).toEqual([`transaction ${tx} is not in the id registry at its moment`]);
    } finally {
      await asSuperuser(
        'ledger_transaction_ids',
        `INSERT INTO ledger_transaction_ids (id, created_at) VALUES ('${tx}', '${registered.created_at}')`,
      );
    }
    expect((await full())?.status).toBe('passed');
    expect((await incremental())?.status).toBe('passed');
  });
});
