import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client, escapeLiteral } from 'pg';

/**
 * The real services the tests run against. PostgreSQL: TEST_DATABASE_URL names a server
 * (its database is only used to create and drop the test databases); Redis: TEST_REDIS_URL.
 */
export const PG_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const TEST_DATABASE_PREFIX = 'civic_ledger_test_';

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Tests may only ever touch a database whose name says it is one. */
export function assertTestDatabase(url: string): void {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/test/i.test(name)) {
    throw new Error(`Refusing to run tests against database "${name}": its name must say test`);
  }
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A new, empty database for one test file. `settings` are the database's own (ALTER DATABASE ...
 * SET): every session of it starts with them, the service's pool included.
 */
export async function createTestDatabase(settings: Record<string, string> = {}): Promise<{ name: string; url: string }> {
  const name = `${TEST_DATABASE_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(async (c) => {
    await c.query(`CREATE DATABASE "${name}"`);
    for (const [setting, value] of Object.entries(settings)) {
      if (!/^[a-z_]+\.?[a-z_]+$/.test(setting)) throw new Error(`not a setting's name: ${setting}`);
      await c.query(`ALTER DATABASE "${name}" SET ${setting} = ${escapeLiteral(value)}`);
    }
  });
  const url = databaseUrl(name);
  assertTestDatabase(url);
  return { name, url };
}

export async function dropTestDatabase(name: string): Promise<void> {
  assertTestDatabase(databaseUrl(name));
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/**
 * Databases left behind by runs that were killed: those whose creating process is gone.
 * A database of a run still going on (another checkout testing at the same time) is left alone.
 */
export async function dropStaleTestDatabases(): Promise<void> {
  await withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
      `${TEST_DATABASE_PREFIX}%`,
    ]);
    for (const { datname } of rows) {
      const pid = Number(/^[a-z_]+?_(\d+)_[0-9a-f]+$/.exec(datname)?.[1]);
      if (Number.isInteger(pid) && processAlive(pid)) continue;
      await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const HOW = 'Run `node scripts/test-services.js` (README, Tests), or point the tests elsewhere with';

/** The suite's check that PostgreSQL answers (and drops the databases of killed runs). */
export async function checkPostgres(): Promise<void> {
  try {
    await dropStaleTestDatabases();
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL} (${(error as Error).message}). ${HOW} TEST_DATABASE_URL.`, {
      cause: error,
    });
  }
}

/** The suite's check that Redis answers. */
export async function checkRedis(url = REDIS_URL): Promise<void> {
  // ioredis' own connectTimeout leaves a socket timer behind a refused connection, holding the
  // process open: an unref'd timer of ours bounds the wait instead
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref();
  });
  try {
    await Promise.race([
      redis
        .connect()
        .then(() => redis.ping())
        .then((pong) => {
          if (pong !== 'PONG') throw new Error('PING got no PONG');
        }),
      timeout,
    ]);
  } catch (error) {
    throw new Error(`Redis is not reachable at ${url} (${(error as Error).message}). ${HOW} TEST_REDIS_URL.`, { cause: error });
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
