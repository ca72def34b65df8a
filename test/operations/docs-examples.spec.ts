import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo } from '../../src/demo/demo';
import { startTestApp, TestApp } from '../support/app';

const ROOT = join(__dirname, '..', '..');

/** The ```bash blocks of a doc that talk to the service (setup blocks such as `npm ci` are not run). */
function examplesOf(doc: string): string[] {
  const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
  return [...text.matchAll(/```bash\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .filter((block) => block.includes('curl ') && block.includes('localhost:3000'));
}

/**
 * Every example of the API guide and getting started, run by bash as a reader pastes them, against
 * the demo's data with the demo's keys (its export line). Each curl must answer 2xx: curl fails the
 * block otherwise (--fail-with-body) and the test prints the block and what the service said.
 */
describe('the documentation’s examples run as written against the demo', () => {
  let t: TestApp;
  let summary = '';
  let dir: string;

  beforeAll(async () => {
    // as the demo runs: a webhook receiver on this machine is allowed
    t = await startTestApp({ WEBHOOK_ALLOW_PRIVATE: 'true' });
    await seedDemo(t.app, t.config, 'http://localhost:3000', {
      events: 200,
      seed: 7,
      out: { write: (text: string) => (summary += text) } as never,
      progress: () => ({ tick: () => undefined, stop: () => undefined }),
    });
    dir = mkdtempSync(join(tmpdir(), 'civic-docs-'));
  }, 180_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  async function run(doc: string): Promise<void> {
    const exports = /^ {2}export (.+)$/m.exec(summary)![1];
    const port = (t.app.getHttpServer().address() as { port: number }).port;
    const blocks = examplesOf(doc);
    expect(blocks.length).toBeGreaterThan(0);
    const script = [
      'set -eo pipefail',
      `export ${exports}`,
      // a reader sees the answer; the test also wants a refusal to stop the block
      'curl() { command curl -sS --fail-with-body "$@" && echo; }',
      ...blocks.map(
        (block, i) =>
          `echo "### ${doc} example ${i + 1}" >&2\n${block.replaceAll('localhost:3000', `127.0.0.1:${port}`).replaceAll('scripts/verify-proof.js', join(ROOT, 'scripts', 'verify-proof.js'))}`,
      ),
    ].join('\n');
    // not spawnSync: the service answering the examples runs in this very process
    const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    if (result.status !== 0) {
      throw new Error(
        `${doc}: an example failed (exit ${result.status})\n--- stderr\n${result.stderr}\n--- stdout (last 3000)\n${result.stdout.slice(-3000)}`,
      );
    }
    expect(result.stderr).toContain(`### ${doc} example ${blocks.length}`);
  }

  it('docs/getting-started.md', () => run('getting-started.md'), 120_000);

  it('docs/api.md', () => run('api.md'), 180_000);
});
