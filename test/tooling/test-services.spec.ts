import { spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { checkRedis } from '../support/services';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'test-services.js');

/** A port nothing listens on: the kernel picks a free one, we release it. */
function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function runScript(port: number, env: Record<string, string> = {}) {
  const base = { ...process.env };
  delete base.TEST_REDIS_URL;
  delete base.TEST_SERVICES;
  const result = spawnSync(process.execPath, [SCRIPT, 'redis'], {
    env: { ...base, TEST_SERVICES_REDIS_PORT: String(port), ...env },
    encoding: 'utf8',
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

// The machine's shared Redis is never stopped: the script is pointed at a spare port where no Redis runs.
describe('npm test makes its services ready (scripts/test-services.js)', () => {
  let port: number;
  let url: string;

  beforeAll(async () => {
    port = await sparePort();
    url = `redis://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    // stop only the Redis this test had the script start, on its own port (a bare socket: an
    // ioredis client would hold the test process open for a while after the server is gone)
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('SHUTDOWN NOSAVE\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  });

  it('leaves a stopped Redis alone when told the services are external, and the check then says how to start it', async () => {
    expect(runScript(port, { TEST_SERVICES: 'external' }).status).toBe(0);
    await expect(checkRedis(url)).rejects.toThrow(/not reachable.*node scripts\/test-services\.js/);
  });

  it('leaves it alone when TEST_REDIS_URL points elsewhere', async () => {
    expect(runScript(port, { TEST_REDIS_URL: 'redis://127.0.0.1:6379' }).status).toBe(0);
    await expect(checkRedis(url)).rejects.toThrow(/not reachable/);
  });

  it("starts a stopped Redis, and the suite's connection check then passes", async () => {
    const first = runScript(port);
    expect(first).toMatchObject({ status: 0 });
    expect(first.output).toContain(`Redis is not running on 127.0.0.1:${port}: starting it`);
    await expect(checkRedis(url)).resolves.toBeUndefined();
  });

  it('uses a Redis already answering as it is', async () => {
    const again = runScript(port);
    expect(again).toEqual({ status: 0, output: '' });
    await expect(checkRedis(url)).resolves.toBeUndefined();
  });
});
