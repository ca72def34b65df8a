#!/usr/bin/env node
// Runs `prisma generate`. Prisma 7's CLI first fetches a native schema engine, which cannot be
// downloaded on machines without internet access; `generate` itself never uses that engine,
// so when no engine is present we point the CLI at a stub that only answers `--version`.
// Machines that have (or can fetch) the real engine are left alone.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env };

function hasRealEngine() {
  if (env.PRISMA_SCHEMA_ENGINE_BINARY) return true;
  const enginesDir = path.join(root, 'node_modules', '@prisma', 'engines');
  try {
    return fs.readdirSync(enginesDir).some((f) => f.startsWith('schema-engine'));
  } catch {
    return false;
  }
}

if (!hasRealEngine()) {
  const stub = path.join(os.tmpdir(), `prisma-schema-engine-stub-${process.getuid?.() ?? 0}`);
  fs.writeFileSync(stub, '#!/bin/sh\necho "schema-engine-cli 0.0.0-stub"\n', { mode: 0o755 });
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
  env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
}

const cli = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
const result = spawnSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
