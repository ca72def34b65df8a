import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { TestApp } from './app';

/**
 * The real queue worker (`dist/worker.js`) as a process of its own, on the test app's database
 * and queues, with the sweeper held back: tests kill it to see that nothing is lost or doubled.
 */
export function startWorker(app: TestApp, redisUrl: string, env: Record<string, string> = {}): ChildProcess {
  const root = join(__dirname, '..', '..');
  return spawn(process.execPath, [join(root, 'dist', 'worker.js')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: app.databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: app.config.queuePrefix,
      EARN_SWEEP_SECONDS: '3600',
      LOG_LEVEL: 'error',
      NODE_ENV: 'test',
      ...env,
    },
    stdio: 'ignore',
  });
}
