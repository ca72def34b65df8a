#!/usr/bin/env node
// `npm start` / `npm run demo` / `npm run bench`: builds the service when dist/ is missing or
// older than src/, then runs it with the given arguments (the service applies pending
// migrations at start). `--bench` runs the benchmark (dist/bench/main.js) instead, `--worker`
// the queue worker (dist/worker.js); `--build-only` only builds.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bench = process.argv.includes('--bench');
const worker = process.argv.includes('--worker');
const entry = path.join(root, 'dist', bench ? path.join('bench', 'main.js') : worker ? 'worker.js' : 'main.js');
const buildOnly = process.argv.includes('--build-only');
const args = process.argv.slice(2).filter((a) => !['--bench', '--worker', '--build-only'].includes(a));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function needsBuild() {
  if (!fs.existsSync(entry)) return true;
  const built = fs.statSync(path.join(root, 'dist', 'main.js')).mtimeMs;
  return [path.join(root, 'src'), path.join(root, 'prisma')].some((d) => newestMtime(d) > built);
}

if (needsBuild()) {
  console.log('Building the service...');
  const build = spawnSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

if (buildOnly) process.exit(0);

const run = spawnSync(process.execPath, ['--enable-source-maps', entry, ...args], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
