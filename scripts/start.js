#!/usr/bin/env node
// `npm start` / `npm run demo` / `npm run bench` / `npm run cli`: builds the service when dist/ is
// missing or older than src/, then runs it with the given arguments (the service applies pending
// migrations at start). `--bench` runs the benchmark (bench/, compiled with the service's sources
// into dist-bench/ by bench/tsconfig.json, so that dist/ holds the service alone) instead,
// `--worker` the queue worker (dist/worker.js), `--cli` the command-line tool (dist/cli.js), `--demo`
// the demo (dist/demo/main.js, an entry point of its own so that the service does not depend on it);
// `--build-only` only builds.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bench = process.argv.includes('--bench');
const worker = process.argv.includes('--worker');
const cli = process.argv[2] === '--cli';
const demo = !bench && !worker && !cli && process.argv.includes('--demo');
const out = path.join(root, bench ? 'dist-bench' : 'dist');
const entry = bench
  ? path.join(out, 'bench', 'main.js')
  : path.join(out, worker ? 'worker.js' : cli ? 'cli.js' : demo ? path.join('demo', 'main.js') : 'main.js');
const buildOnly = process.argv.includes('--build-only');
// the CLI's own arguments pass through untouched
const args = cli
  ? process.argv.slice(3)
  : process.argv.slice(2).filter((a) => !['--bench', '--worker', '--build-only', '--demo'].includes(a));

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
  const built = fs.statSync(bench ? entry : path.join(out, 'main.js')).mtimeMs;
  return ['src', 'prisma', ...(bench ? ['bench'] : [])].some((d) => newestMtime(path.join(root, d)) > built);
}

if (needsBuild()) {
  // on stderr: the CLI's stdout may be a statement being exported
  console.error(bench ? 'Building the benchmark...' : 'Building the service...');
  const command = bench
    ? [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'bench', 'tsconfig.json')]
    : [require.resolve('@nestjs/cli/bin/nest.js'), 'build'];
  const build = spawnSync(process.execPath, command, {
    cwd: root,
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// tsc copies no assets (nest build does, by nest-cli.json): the pages' templates and files, for the console's scenario
if (bench) {
  for (const dir of ['views', 'assets']) {
    fs.cpSync(path.join(root, 'src', 'pages', dir), path.join(out, 'src', 'pages', dir), { recursive: true });
  }
}

if (buildOnly) process.exit(0);

const run = spawnSync(process.execPath, ['--enable-source-maps', entry, ...args], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
