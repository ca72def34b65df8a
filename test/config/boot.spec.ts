import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase } from '../support/services';

const root = join(__dirname, '..', '..');

/** Runs the real entry point (`npm start` builds it first when needed). */
function start(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'start.js'), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('starting the service', () => {
  it('a bad or missing-format variable stops the process with a message naming it', () => {
    const { status, output } = start([], { PORT: 'eighty', REDIS_URL: 'localhost' });
    expect(status).toBe(1);
    expect(output).toContain('Invalid configuration');
    expect(output).toMatch(/PORT: /);
    expect(output).toMatch(/REDIS_URL: must be a redis/);
  });

  it("`npm run demo` starts the demo's own entry point, which checks its options before anything starts", () => {
    const { status, output } = start(['--demo', '--events', 'many'], {});
    expect(output).toContain('--events must be a whole number');
    expect(status).toBe(1);
  });

  it("the service's entry point refuses `--demo` and names the demo's", () => {
    const result = spawnSync(process.execPath, [join(root, 'dist', 'main.js'), '--demo'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toContain('npm run demo (node dist/demo/main.js)');
    expect(result.status).toBe(2);
  });

  it('`--migrate` applies pending migrations, and a second run applies none', async () => {
    const db = await createTestDatabase();
    try {
      const first = start(['--migrate'], { DATABASE_URL: db.url });
      expect(first.output).toMatch(/[1-9]\d* migration\(s\) applied/);
      expect(first.status).toBe(0);
      const second = start(['--migrate'], { DATABASE_URL: db.url });
      expect(second.status).toBe(0);
      expect(second.output).toMatch(/0 migration\(s\) applied; [1-9]\d* already in place/);
    } finally {
      await dropTestDatabase(db.name);
    }
  });
});
