#!/usr/bin/env node
// `npm run screenshots`: runs the browser test (test/browser/pages.spec.ts, Debian's chromium),
// which writes every page at phone and desktop width to test-artifacts/screenshots/, then copies
// the ones docs/pages.md shows to docs/screenshots/. Commit those when the pages change.
// `--copy-only` copies what the last run wrote without running the test again.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const from = path.join(root, 'test-artifacts', 'screenshots');
const to = path.join(root, 'docs', 'screenshots');
/** The pages docs/pages.md shows: the residents' catalogue, a redemption's answer, my codes, the till. */
const CHOSEN = ['catalogue-museums-ru', 'code-ru', 'codes-ru', 'till-valid-ru', 'till-redeemed-ru'];
const WIDTHS = ['phone', 'desktop'];

if (!process.argv.includes('--copy-only')) {
  const run = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), 'test/browser/pages.spec.ts'],
    { cwd: root, stdio: 'inherit' },
  );
  if (run.status !== 0) {
    console.error('screenshots: the browser test failed; docs/screenshots/ left as it was');
    process.exit(run.status ?? 1);
  }
}

const missing = CHOSEN.flatMap((name) => WIDTHS.map((w) => `${name}-${w}.png`)).filter((f) => !fs.existsSync(path.join(from, f)));
if (missing.length > 0) {
  console.error(`screenshots: not written by the browser test: ${missing.join(', ')}`);
  process.exit(1);
}
fs.mkdirSync(to, { recursive: true });
for (const name of CHOSEN) for (const w of WIDTHS) fs.copyFileSync(path.join(from, `${name}-${w}.png`), path.join(to, `${name}-${w}.png`));
console.log(`screenshots: ${CHOSEN.length * WIDTHS.length} copied to ${path.relative(root, to)}/`);
