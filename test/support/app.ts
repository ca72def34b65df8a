import { randomBytes, randomUUID } from 'node:crypto';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/app.setup';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { AppConfig, loadConfig } from '../../src/config/config';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { LoggingOptions } from '../../src/infra/logging/logging.module';
import { assertTestDatabase, createTestDatabase, dropTestDatabase, REDIS_URL } from './services';

export const ADMIN_KEY = `admin-${randomBytes(24).toString('base64url')}`;
export const JWT_SECRET = randomBytes(32).toString('base64url');

export interface TestApp {
  app: NestExpressApplication;
  http: TestAgent;
  config: AppConfig;
  prisma: PrismaService;
  databaseUrl: string;
  /** Authorization header of a resident token signed with the service's secret. */
  residentAuth(residentId: string, expiresInSeconds?: number): { Authorization: string };
  admin: { 'X-API-Key': string };
  /** Gives a resident points by an admin's opening adjustment (answered 201), as many tests begin. */
  grant(residentId: string, amount: string): request.Test;
  close(): Promise<void>;
}

/**
 * The real service on a fresh PostgreSQL database of its own, with a real Redis. `logging` sends
 * its log lines somewhere to read (they are off unless `env` sets LOG_LEVEL); `databaseSettings`
 * are its database's own, in every session of the service's pool (createTestDatabase).
 */
export async function startTestApp(
  env: Record<string, string | undefined> = {},
  logging: LoggingOptions = {},
  databaseSettings: Record<string, string> = {},
): Promise<TestApp> {
  const database = await createTestDatabase(databaseSettings);
  const config = testConfig({ DATABASE_URL: database.url, ...env });
  assertTestDatabase(config.database.url!);
  const app = await createApp(config, logging);
  // a real listening socket: concurrent requests arrive as they would in production
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  const http = request(url.replace('[::1]', '127.0.0.1'));
  const admin = { 'X-API-Key': ADMIN_KEY };
  return {
    app,
    http,
    config,
    prisma: app.get(PrismaService),
    databaseUrl: database.url,
    residentAuth: (residentId, expiresInSeconds = 600) => ({
      Authorization: `Bearer ${signResidentToken(residentId, JWT_SECRET, expiresInSeconds)}`,
    }),
    admin,
    grant: (residentId, amount) =>
      http
        .post('/v1/admin/adjustments')
        .set(admin)
        .set('Idempotency-Key', randomUUID())
        .send({ residentId, amount, reason: 'opening' })
        .expect(201),
    async close() {
      await app.close();
      await dropTestDatabase(database.name);
    },
  };
}

export function testConfig(env: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    REDIS_URL,
    ADMIN_API_KEY: ADMIN_KEY,
    RESIDENT_JWT_SECRET: JWT_SECRET,
    LOG_LEVEL: 'silent',
    API_KEY_CACHE_SECONDS: '10',
    // each test app has queues of its own on the shared Redis, and sweeps only when a test says so
    QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}`,
    EARN_SWEEP_SECONDS: '3600',
    ...env,
  });
}

/** Asserts an answer is RFC 9457 problem+json with the given status and code. */
export function expectProblem(res: request.Response, status: number, code: string): void {
  const body = res.body as Partial<Record<'type' | 'title' | 'status' | 'detail' | 'code', unknown>> | undefined;
  if (res.status !== status || body?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
  }
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect({ ...body, shape: [typeof body.type, typeof body.title, typeof body.detail] }).toMatchObject({
    status,
    code,
    shape: ['string', 'string', 'string'],
  });
}
