import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkPostgres, checkRedis } from './services';

const scripts = join(__dirname, '..', '..', 'scripts');

/**
 * The integration tier needs a real PostgreSQL, a real Redis and Debian's chromium:
 * scripts/test-services.js makes them ready (uses, starts or installs them; TEST_SERVICES=external
 * opts out), then the suite checks it can reach them and fails at once, saying how, if it cannot.
 * Nothing is ever skipped for want of a service.
 */
export default async function globalSetup(): Promise<void> {
  const services = spawnSync(process.execPath, [join(scripts, 'test-services.js')], { stdio: 'inherit' });
  if (services.status !== 0) throw new Error('the services the tests need are not ready (see above)');
  // tests that start the real entry points need dist/ built, once, before the workers run
  const build = spawnSync(process.execPath, [join(scripts, 'start.js'), '--build-only'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building the service for the tests failed');
  await checkPostgres();
  await checkRedis();
}
