import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, REDIS_URL } from '../support/services';
import { childrenOf, freePort } from '../support/topology';
import { waitFor } from '../support/wait';

/**
 * API_PROCESSES=2: the built service (`dist/main.js`) runs two API processes on one port under a
 * supervising primary, which restarts one that is killed; SIGTERM stops them all gracefully.
 */
describe('several API processes on one port', () => {
  const root = join(__dirname, '..', '..');
  const adminKey = `admin-${randomBytes(24).toString('base64url')}`;
  let database: { name: string; url: string };
  let primary: ChildProcess;
  let port: number;
  let output = '';

  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  const children = (): number[] => childrenOf(primary.pid!);
  const alive = async () => (await fetch(url('/health/live')).catch(() => null))?.status === 200;

  beforeAll(async () => {
    database = await createTestDatabase();
    port = await freePort();
    primary = spawn(process.execPath, [join(root, 'dist', 'main.js')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        PORT: String(port),
        DATABASE_URL: database.url,
        REDIS_URL,
        QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}`,
        ADMIN_API_KEY: adminKey,
        API_PROCESSES: '2',
        SHUTDOWN_TIMEOUT_MS: '10000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    primary.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    primary.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(async () => children().length === 2 && (await alive()), 60_000, 'two API processes serving');
  }, 90_000);

  afterAll(async () => {
    if (primary.exitCode === null) primary.kill('SIGKILL');
    for (const pid of children()) process.kill(pid, 'SIGKILL');
    await dropTestDatabase(database.name);
  });

  it('serves from two processes, restarts one killed with SIGKILL, and loses no request but those it held', async () => {
    const before = children();
    expect(before).toHaveLength(2);
    // requests spread over both processes are all answered
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => fetch(url('/v1/admin/sources'), { headers: { 'X-API-Key': adminKey } }).then((r) => r.status)),
    );
    expect(answers.every((s) => s === 200)).toBe(true);

    process.kill(before[0], 'SIGKILL');
    // the other process keeps serving meanwhile (a connection the supervisor handed to the dead one
    // just before it noticed may fail: the client's retry is served)
    await waitFor(alive, 5_000, 'the other process serving');
    const replaced = await waitFor(
      async () => {
        const now = children();
        return now.length === 2 && !now.includes(before[0]) ? now : undefined;
      },
      60_000,
      'the killed API process replaced',
    );
    expect(replaced).toContain(before[1]);
    await waitFor(alive, 30_000, 'serving after the restart');
    expect(output).toMatch(/ended \(SIGKILL\)/);
  }, 120_000);

  it('SIGTERM stops every API process and the primary, in time', async () => {
    const pids = children();
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of pids) expect(running(pid)).toBe(false);
  }, 30_000);
});

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
