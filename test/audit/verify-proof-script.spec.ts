import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'verify-proof.js');

/** `node scripts/verify-proof.js ...` as an auditor runs it, without a proof worth checking. */
function verify(...args: string[]) {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('scripts/verify-proof.js given nothing to verify', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'civic-proof-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const oneLine = (r: ReturnType<typeof verify>, reason: RegExp) => {
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(reason);
  };

  it('no argument: says how to use it, exit 2', () => oneLine(verify(), /^verify-proof: usage: node scripts\/verify-proof.js proof.json/));

  it('a missing file: says so, exit 2', () => oneLine(verify(join(dir, 'nope.json')), /cannot read proof .*nope.json: no such file/));

  it('a 404 answer saved in place of the proof: says it is an error answer and which, exit 2', () => {
    const file = join(dir, 'proof.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'urn:civic-points-ledger:problem:not_found',
        title: 'Not found',
        status: 404,
        detail: 'transaction x is not sealed yet',
        code: 'not_found',
      }),
    );
    oneLine(verify(file), /holds an error answer, not a proof: 404 not_found: transaction x is not sealed yet/);
  });

  it('not JSON, or JSON that is not a proof: exit 2', () => {
    const text = join(dir, 'text.json');
    writeFileSync(text, '<html>502 Bad Gateway</html>');
    oneLine(verify(text), /is not JSON/);
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"items":[]}');
    oneLine(verify(other), /is not a proof/);
  });
});
