import { randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/app.setup';
import { loadConfig } from '../../src/config/config';
import { BenchOptions } from '../options';

/** The service as the HTTP scenarios drive it. */
export interface BenchApp {
  app: NestExpressApplication;
  base: string;
  adminKey: string;
  call: (path: string, body: unknown, key: string) => Promise<Record<string, unknown>>;
}

/** The whole service on the benchmark database, with Bull on Redis, listening on loopback. */
export async function startService(o: BenchOptions, url: string, env: Record<string, string> = {}): Promise<BenchApp> {
  const adminKey = randomBytes(24).toString('base64url');
  const config = loadConfig({
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(o.workers),
    REDIS_URL: o.redis,
    QUEUE_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
    ADMIN_API_KEY: adminKey,
    RESIDENT_JWT_SECRET: randomBytes(32).toString('base64url'),
    PARTNER_CODE_RATE_PER_MINUTE: '1000000',
    // the webhooks scenario's receiver listens on loopback
    WEBHOOK_ALLOW_PRIVATE: 'true',
    // BENCH_LOG_LEVEL=info shows the service's own log lines (seals, awards) among the figures
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'error',
    ...env,
  });
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const call = async (path: string, body: unknown, key: string) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  return { app, base, adminKey, call };
}
