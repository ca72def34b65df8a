import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { assertTestDatabase } from './services';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/cli.js ...` against the test's own database, as an operator runs it (log lines at `logLevel`). */
export function runCli(databaseUrl: string, args: string[], logLevel = 'warn'): Promise<CliResult> {
  assertTestDatabase(databaseUrl);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: logLevel },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
