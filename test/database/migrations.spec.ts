import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, openEmbedded, openPostgres } from '../../src/infra/database/database';
import { applyMigrations, checksumOf, Migration, MigrationError, readMigrations } from '../../src/infra/database/migrator';
import { createTestDatabase, dropTestDatabase } from '../support/services';

const migrations = readMigrations();

const extra = (name: string, sql: string): Migration => ({ name, sql, checksum: checksumOf(sql) });

async function tables(db: Database): Promise<string[]> {
  const rows = await db.withSession((s) =>
    s.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`),
  );
  return rows.map((r) => r.tablename);
}

describe('migrations on PostgreSQL', () => {
  let name: string;
  let db: Database;

  beforeEach(async () => {
    const created = await createTestDatabase();
    name = created.name;
    db = openPostgres({ url: created.url });
  });

  afterEach(async () => {
    await db.close();
    await dropTestDatabase(name);
  });

  it('apply every migration to an empty database, and the second run is a no-op', async () => {
    const first = await db.withSession((s) => applyMigrations(s));
    expect(first).toEqual({ applied: migrations.map((m) => m.name), alreadyApplied: 0 });
    expect(await tables(db)).toEqual(expect.arrayContaining(['_prisma_migrations', 'sources', 'partners', 'api_clients', 'admin_actions']));

    const second = await db.withSession((s) => applyMigrations(s));
    expect(second).toEqual({ applied: [], alreadyApplied: migrations.length });
  });

  it('record each migration as Prisma does: name, sha256 checksum of the file, finished', async () => {
    await db.withSession((s) => applyMigrations(s));
    const rows = await db.withSession((s) =>
      s.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
      ),
    );
    expect(rows.map((r) => [r.migration_name, r.checksum])).toEqual(migrations.map((m) => [m.name, m.checksum]));
    for (const row of rows) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('apply a new migration on top of the applied ones', async () => {
    await db.withSession((s) => applyMigrations(s));
    const next = extra('29990101000000_more', 'CREATE TABLE later_table (id INT PRIMARY KEY);');
    const report = await db.withSession((s) => applyMigrations(s, [...migrations, next]));
    expect(report.applied).toEqual([next.name]);
    expect(await tables(db)).toContain('later_table');
  });

  it('roll a failing migration back whole and record nothing of it', async () => {
    await db.withSession((s) => applyMigrations(s));
    const broken = extra('29990101000000_broken', 'CREATE TABLE half_done (id INT); SELECT * FROM no_such_table;');
    await expect(db.withSession((s) => applyMigrations(s, [...migrations, broken]))).rejects.toThrow(
      /29990101000000_broken failed and was rolled back/,
    );
    expect(await tables(db)).not.toContain('half_done');
    const recorded = await db.withSession((s) => s.query(`SELECT 1 FROM _prisma_migrations WHERE migration_name = $1`, [broken.name]));
    expect(recorded).toHaveLength(0);
  });

  it('refuse to start when an applied migration was edited afterwards', async () => {
    await db.withSession((s) => applyMigrations(s));
    const edited = migrations.map((m, i) => (i === 0 ? extra(m.name, `${m.sql}\n-- edited`) : m));
    await expect(db.withSession((s) => applyMigrations(s, edited))).rejects.toThrow(MigrationError);
  });

  it('refuse to start when the database has a migration this code does not know', async () => {
    await db.withSession((s) => applyMigrations(s));
    await expect(db.withSession((s) => applyMigrations(s, migrations.slice(0, -1)))).rejects.toThrow(/missing from/);
  });

  it('apply once when several replicas start at the same moment', async () => {
    const reports = await Promise.all(Array.from({ length: 4 }, () => db.withSession((s) => applyMigrations(s))));
    expect(reports.flatMap((r) => r.applied)).toEqual(migrations.map((m) => m.name));
    const count = await db.withSession((s) => s.query<{ n: string }>('SELECT count(*) AS n FROM _prisma_migrations'));
    expect(Number(count[0].n)).toBe(migrations.length);
  });
});

describe('migrations on the embedded database (PGlite)', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'civic-ledger-test-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('apply every migration, a second run is a no-op, and the data survives a restart', async () => {
    const db = await openEmbedded(dir);
    expect((await db.withSession((s) => applyMigrations(s))).applied).toEqual(migrations.map((m) => m.name));
    await db.withSession((s) => s.query(`INSERT INTO sources (id, name) VALUES ('kept', 'Kept')`));
    await db.close();

    const reopened = await openEmbedded(dir);
    try {
      expect(await reopened.withSession((s) => applyMigrations(s))).toEqual({ applied: [], alreadyApplied: migrations.length });
      const rows = await reopened.withSession((s) => s.query<{ id: string }>('SELECT id FROM sources'));
      expect(rows).toEqual([{ id: 'kept' }]);
    } finally {
      await reopened.close();
    }
  });
});
