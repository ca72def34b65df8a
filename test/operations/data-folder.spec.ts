import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

const DIST = join(__dirname, '..', '..', 'dist');
const ADMIN = `admin-${'k'.repeat(30)}`;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** The environment of a newcomer's machine: the embedded database in `dataDir`, no Redis. */
function envOf(dataDir: string, port = 3000): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: String(port), ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'warn' };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(DIST, script), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function startService(dataDir: string): Promise<{ child: ChildProcess; http: ReturnType<typeof request> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(DIST, 'main.js')], { env: envOf(dataDir, port), stdio: ['ignore', 'ignore', 'inherit'] });
  const http = request(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    const live = await http.get('/health/live').then(
      (r) => r.status,
      () => 0,
    );
    if (live === 200) return { child, http };
    if (Date.now() > deadline) throw new Error('the service did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await once(child, 'exit');
}

describe('the embedded data folder belongs to one process at a time', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'civic-data-'));
  });

  afterAll(async () => {
    for (const child of children) await stop(child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the CLI beside a running service refuses, naming the process, and nothing either of them did is lost', async () => {
    const service = await startService(dataDir);
    children.push(service.child);
    await service.http
      .post('/v1/admin/partners')
      .set('X-API-Key', ADMIN)
      .send({ id: 'coffee-chain', name: 'Coffee Chain', kind: 'cafe' })
      .expect(201);

    for (const args of [['reconcile'], ['create-api-client', '--name', 'ops', '--role', 'admin']]) {
      const refused = await run('cli.js', args, envOf(dataDir));
      expect(refused.status).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain(`The data folder ${dataDir} is in use by process ${service.child.pid} (node dist/main.js`);
      expect(refused.stderr).toContain(`kill ${service.child.pid}`);
      expect(refused.stderr).not.toMatch(/\n\s+at /); // a sentence, not a stack trace
    }
    // the service goes on as if nothing happened
    const partners = await service.http.get('/v1/admin/partners').set('X-API-Key', ADMIN).expect(200);
    expect(partners.body.items.map((p: { id: string }) => p.id)).toEqual(['coffee-chain']);
    await stop(service.child);

    // stopped: the CLI works, and what it made is there at the next start
    const made = await run('cli.js', ['create-api-client', '--name', 'ops', '--role', 'auditor'], envOf(dataDir));
    expect(made.status).toBe(0);
    const key = /key \(shown once, stored only as a hash\): (\S+)/.exec(made.stdout)![1];
    const again = await startService(dataDir);
    children.push(again.child);
    await again.http.get('/v1/audit/trial-balance').set('X-API-Key', key).expect(200);
    const still = await again.http.get('/v1/admin/partners').set('X-API-Key', ADMIN).expect(200);
    expect(still.body.items.map((p: { id: string }) => p.id)).toEqual(['coffee-chain']);

    // and a second service on the same folder is refused too, while the first keeps serving
    const second = await run('main.js', [], envOf(dataDir, await freePort()));
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`is in use by process ${again.child.pid}`);
    await again.http.get('/health/live').expect(200);
    await stop(again.child);
  }, 240_000);

  it('a holder that dies without a word (kill -9) leaves the folder free: the operating system drops its lock', async () => {
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(DIST, 'infra', 'database', 'data-folder-lock.js'))}).lockDataFolder(process.argv[1]); console.log('held'); setInterval(() => {}, 1000)`,
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    const [first] = (await Promise.race([once(holder.stdout, 'data'), once(holder, 'exit')])) as unknown[];
    expect(String(first)).toBe('held\n');
    const refused = await run('cli.js', ['create-api-client', '--name', 'x', '--role', 'auditor'], envOf(dataDir));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`is in use by process ${holder.pid}`);
    await stop(holder, 'SIGKILL');
    const after = await run('cli.js', ['create-api-client', '--name', 'x', '--role', 'auditor'], envOf(dataDir));
    expect(after.stderr).toBe('');
    expect(after.status).toBe(0);
  }, 120_000);
});
