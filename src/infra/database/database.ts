import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { AppConfig } from '../../config/config';
import { lockDataFolder } from './data-folder-lock';
import type { SqlSession } from './migrator';

/**
 * The two databases the service runs on: PostgreSQL (DATABASE_URL) through Prisma's pg adapter,
 * or, with no DATABASE_URL, an embedded PostgreSQL (PGlite) in the data folder. Everything above
 * this file sees only a Prisma driver adapter and, for migrations, a raw SQL session.
 */
export interface Database {
  readonly kind: 'postgres' | 'embedded';
  readonly adapter: PrismaPg | PrismaPGlite;
  /**
   * A statement on its own, outside any transaction, as a named prepared statement straight on
   * the driver: the hot paths (a partner validating a code at the till, a redemption in one
   * statement) skip Prisma's per-query work.
   */
  query<T>(name: string, sql: string, params: unknown[]): Promise<T[]>;
  /** Runs `fn` on one dedicated connection (migrations, advisory locks). */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  poolSize?: number;
}

export function openPostgres({ url, poolSize = 10 }: PostgresOptions): Database {
  const pool = new Pool({ connectionString: url, max: poolSize });
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    adapter: new PrismaPg(pool),
    query: async <T>(name: string, sql: string, params: unknown[]) => (await pool.query({ name, text: sql, values: params })).rows as T[],
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
          exec: async (sql) => {
            await client.query(sql);
          },
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

export async function openEmbedded(dataDir: string): Promise<Database> {
  mkdirSync(dataDir, { recursive: true });
  // held until close or the process's end: a second process on this folder is refused, never let in
  const lock = lockDataFolder(dataDir);
  let pglite: PGlite;
  try {
    pglite = new PGlite(dataDir);
    await pglite.waitReady;
  } catch (error) {
    lock.release();
    throw error;
  }
  return {
    kind: 'embedded',
    adapter: new PrismaPGlite(pglite),
    query: async <T>(_name: string, sql: string, params: unknown[]) => (await pglite.query<T>(sql, params)).rows,
    withSession: (fn) =>
      fn({
        query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
        exec: async (sql) => {
          await pglite.exec(sql);
        },
      }),
    async close() {
      try {
        await pglite.close();
      } finally {
        lock.release();
      }
    },
  };
}

export function openDatabase(config: AppConfig): Promise<Database> | Database {
  return config.database.url
    ? openPostgres({ url: config.database.url, poolSize: config.database.poolSize })
    : openEmbedded(config.database.dataDir);
}
