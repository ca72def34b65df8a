import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { dropStaleTestDatabases, PG_ADMIN_URL, REDIS_URL } from './services';

/**
 * The suite needs a real PostgreSQL and a real Redis; without them it fails at once with a
 * message saying how to start them, rather than skipping anything.
 */
export default async function globalSetup(): Promise<void> {
  // tests that start the real entry points need dist/ built, once, before the workers run
  const build = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'start.js'), '--build-only'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building the service for the tests failed');
  try {
    await dropStaleTestDatabases();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${PG_ADMIN_URL} (${(error as Error).message}). ` +
        'Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set TEST_DATABASE_URL.',
    );
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(error as Error).message}). ` +
        'Start it (redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no) or set TEST_REDIS_URL.',
    );
  } finally {
    redis.disconnect();
  }
}
