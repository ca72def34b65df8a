#!/usr/bin/env node
/**
 * Makes the real services the test suite needs ready: PostgreSQL, Redis and Debian's chromium.
 * Used by the integration tier's Jest global setup (test/support/global-setup.ts) and by .ci/run.
 *
 * For each one: one already answering is used as it is; one installed but down is started; a
 * missing one is installed from Debian's packages when this user may (root, or passwordless
 * sudo), saying so in one line; otherwise it stops with the exact commands to run.
 *
 *   node scripts/test-services.js [postgres] [redis] [chromium]   (default: all three)
 *
 * TEST_DATABASE_URL / TEST_REDIS_URL: that service is elsewhere, left alone here.
 * TEST_SERVICES=external: nothing is started or installed (the suite then only checks).
 * TEST_SERVICES_REDIS_PORT: the local Redis port (default 6379; the script's own test uses a spare one).
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const { Client } = require('pg');
const Redis = require('ioredis');

const PG_URL = 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const REDIS_PORT = Number(process.env.TEST_SERVICES_REDIS_PORT ?? 6379);
const CHROMIUM = '/usr/bin/chromium';

const log = (line) => console.log(`[test-services] ${line}`);

class NeedsUser extends Error {
  constructor(what, commands) {
    super(
      `${what}. Run:\n${commands.map((c) => `  ${c}`).join('\n')}\nor point the tests elsewhere (TEST_DATABASE_URL, TEST_REDIS_URL; README, Tests).`,
    );
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await check()) return true;
    await sleep(250);
  }
  return false;
}

/** How this process may act as root: 'root', 'sudo' (passwordless) or null. */
function rootAccess() {
  if (process.getuid?.() === 0) return 'root';
  if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return 'sudo';
  return null;
}

function run(command, args, { asRoot = false, quiet = false } = {}) {
  const [cmd, argv] = asRoot && process.getuid?.() !== 0 ? ['sudo', ['-n', command, ...args]] : [command, args];
  const result = spawnSync(cmd, argv, { stdio: quiet ? 'ignore' : 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0) throw new Error(`${[cmd, ...argv].join(' ')} failed (exit ${result.status ?? result.signal})`);
}

const hasCommand = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** Installs Debian packages when allowed, else stops with the commands a person would run. */
function aptInstall(packages, why, then = []) {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  const commands = [
    `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(' ')}`,
    ...then.map((c) => c.replace(/^sudo /, sudo)),
  ];
  if (!rootAccess() || !hasCommand('apt-get')) throw new NeedsUser(why, commands);
  log(`${why}: installing ${packages.join(', ')} from Debian's packages (apt-get install, as root)`);
  run('apt-get', ['update', '-qq'], { asRoot: true, quiet: true });
  run('apt-get', ['install', '-y', '-qq', ...packages], { asRoot: true, quiet: true });
}

async function postgresAnswers() {
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    if (error.code === '28P01' || error.code === '28000') {
      throw new NeedsUser(`PostgreSQL answers on 127.0.0.1:5432 but refuses postgres/postgres (${error.message})`, [
        `sudo -u postgres psql -c "ALTER USER postgres PASSWORD 'postgres'"`,
      ]);
    }
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const clusterVersions = () => (existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql').sort((a, b) => Number(a) - Number(b)) : []);

async function ensurePostgres() {
  if (process.env.TEST_DATABASE_URL) return;
  if (await postgresAnswers()) return;
  let installedNow = false;
  if (clusterVersions().length === 0) {
    aptInstall(['postgresql'], 'PostgreSQL is not installed', [
      'sudo pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -n | tail -n 1) main start',
      `sudo su postgres -c "psql -c \\"ALTER USER postgres PASSWORD 'postgres'\\""`,
    ]);
    installedNow = true;
  }
  const version = clusterVersions().at(-1);
  const start = ['pg_ctlcluster', '--skip-systemctl-redirect', version, 'main', 'start'];
  if (!rootAccess()) throw new NeedsUser(`PostgreSQL ${version} is installed but not running`, [`sudo ${start.join(' ')}`]);
  log(`PostgreSQL ${version} is installed but not running: starting it (${start.join(' ')})`);
  // "already running" (e.g. listening elsewhere) is not an error worth stopping for: the wait below decides
  spawnSync(process.getuid?.() === 0 ? start[0] : 'sudo', process.getuid?.() === 0 ? start.slice(1) : ['-n', ...start], {
    stdio: 'inherit',
  });
  if (installedNow) {
    // a fresh cluster's postgres role has no password; the tests log in with postgres/postgres
    log('setting the password of the new cluster\'s postgres role to "postgres" (the tests\' default)');
    await waitFor(() => spawnSync('pg_isready', ['-q', '-h', '127.0.0.1', '-p', '5432']).status === 0, 30);
    run('runuser', ['-u', 'postgres', '--', 'psql', '-qc', "ALTER USER postgres PASSWORD 'postgres'"], { asRoot: true, quiet: true });
  }
  if (!(await waitFor(postgresAnswers, 30))) throw new Error('PostgreSQL did not come up on 127.0.0.1:5432 within 30 s');
}

async function redisAnswers() {
  const redis = new Redis({
    host: '127.0.0.1',
    port: REDIS_PORT,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function ensureRedis() {
  if (process.env.TEST_REDIS_URL) return;
  if (await redisAnswers()) return;
  if (!hasCommand('redis-server')) aptInstall(['redis-server'], 'Redis is not installed', [shown(redisStart())]);
  const start = redisStart();
  log(`Redis is not running on 127.0.0.1:${REDIS_PORT}: starting it (${shown(start)})`);
  run(start[0], start.slice(1), { quiet: true });
  if (!(await waitFor(redisAnswers, 30))) throw new Error(`Redis did not come up on 127.0.0.1:${REDIS_PORT} within 30 s`);
}

const shown = (argv) => argv.map((a) => (a === '' ? '""' : a)).join(' ');

// a throwaway Redis for queues: nothing is persisted
const redisStart = () => [
  'redis-server',
  '--daemonize',
  'yes',
  '--bind',
  '127.0.0.1',
  '--port',
  String(REDIS_PORT),
  '--save',
  '',
  '--appendonly',
  'no',
];

// the browser test drives Debian's chromium (playwright's browser downloads do not reach these machines)
function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  aptInstall(['chromium'], `${CHROMIUM} is missing`);
}

async function main() {
  if (process.env.TEST_SERVICES === 'external') return;
  const wanted = process.argv.slice(2);
  const want = (name) => wanted.length === 0 || wanted.includes(name);
  for (const name of wanted) if (!['postgres', 'redis', 'chromium'].includes(name)) throw new Error(`unknown service ${name}`);
  if (want('postgres')) await ensurePostgres();
  if (want('redis')) await ensureRedis();
  if (want('chromium')) ensureChromium();
}

main().catch((error) => {
  console.error(`[test-services] ${error.message}`);
  process.exit(1);
});
