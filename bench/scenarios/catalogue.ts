import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { Decimal } from '../../src/common/money';
import { APP_CONFIG, AppConfig } from '../../src/config/config';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { LedgerService } from '../../src/ledger/ledger.service';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, loadFromClient } from '../support/client';
import { ISSUED_ACCOUNT, residentAccount } from '../../src/ledger/domain/account';
import { BenchApp } from '../support/service';

/**
 * Redemptions by 64 concurrent residents (each their own) against a few popular items, through
 * HTTP with idempotency keys; then partner validations of the codes they got.
 */
export async function catalogue(
  o: BenchOptions,
  { app, base, adminKey, call }: BenchApp,
): Promise<{ redemptions: RunResult; validations: RunResult; httpBaseline: RunResult; plainValidations: RunResult }> {
  const ledger = app.get(LedgerService);
  const config = app.get<AppConfig>(APP_CONFIG);
  await call('/v1/admin/partners', { id: 'cafe', name: 'Cafe', kind: 'cafe' }, adminKey);
  const partnerKey = (await call('/v1/admin/api-clients', { name: 'till', role: 'partner', partnerId: 'cafe' }, adminKey)).apiKey as string;
  const items = ['latte', 'cake', 'tea', 'sandwich'];
  for (const id of items) {
    await call(
      '/v1/admin/catalogue-items',
      { id, kind: 'PROMO_CODE', title: id, partnerId: 'cafe', pricePoints: '10', codeSource: 'GENERATED', codeValidDays: 30 },
      adminKey,
    );
  }
  const residents = Array.from({ length: 64 }, (_, i) => `shopper${i}`);
  const perResident = Math.ceil(o.redemptions / residents.length);
  for (const r of residents) {
    await ledger.record({
      type: 'earn',
      postings: [
        { account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D', amount: new Decimal(perResident * 10) },
        { account: residentAccount(r), asset: 'POINTS', side: 'C', amount: new Decimal(perResident * 10) },
      ],
    });
  }
  const tokens = residents.map((r) => signResidentToken(r, config.residentJwtSecret!, 3600));
  // each of the 64 clients is one resident: request i belongs to resident i % 64
  const requests: ClientRequest[] = Array.from({ length: perResident * residents.length }, (_, i) => ({
    method: 'POST',
    path: '/v1/me/redemptions',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${tokens[i % residents.length]}`,
      'Idempotency-Key': randomUUID(),
    },
    body: JSON.stringify({ itemId: items[i % items.length] }),
    expect: 201,
  }));
  const started = process.hrtime.bigint();
  const latencies = await loadFromClient(base, requests, residents.length);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const redemptions = {
    operations: requests.length,
    seconds,
    perSecond: requests.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };

  const codes = (await app.get(PrismaService).itemCode.findMany({ select: { code: true }, take: 2000 })).map((c) => c.code);
  const lookups: ClientRequest[] = Array.from({ length: o.validations }, (_, i) => ({
    method: 'GET',
    path: `/v1/partner/codes/${codes[i % codes.length]}`,
    headers: { 'X-API-Key': partnerKey },
    expect: 200,
  }));
  const vStarted = process.hrtime.bigint();
  const vLatencies = await loadFromClient(base, lookups, 32);
  const vSeconds = Number(process.hrtime.bigint() - vStarted) / 1e9;
  const validations = {
    operations: o.validations,
    seconds: vSeconds,
    perSecond: o.validations / vSeconds,
    p50: percentile(vLatencies, 50),
    p99: percentile(vLatencies, 99),
  };

  // the HTTP baseline: the cheapest route through the same stack (middleware, Nest, logging), no database
  const live: ClientRequest[] = Array.from({ length: o.validations }, () => ({
    method: 'GET',
    path: '/health/live',
    headers: {},
    expect: 200,
  }));
  const hStarted = process.hrtime.bigint();
  const hLatencies = await loadFromClient(base, live, 32);
  const hSeconds = Number(process.hrtime.bigint() - hStarted) / 1e9;
  const httpBaseline = {
    operations: o.validations,
    seconds: hSeconds,
    perSecond: o.validations / hSeconds,
    p50: percentile(hLatencies, 50),
    p99: percentile(hLatencies, 99),
  };
  const plainValidations = await plainValidationServer(app.get<AppConfig>(APP_CONFIG), partnerKey, 'cafe', lookups);
  return { redemptions, validations, httpBaseline, plainValidations };
}

/**
 * The same validations served as plainly as Node allows: a bare node:http server, the key
 * compared with one string, the same SQL on a pg pool of the service's size, the row written
 * as JSON. No framework, guard, rate limit, logging or security headers: what the HTTP stack
 * and the service's own work cost is the ratio to this.
 */
export async function plainValidationServer(
  config: Pick<AppConfig, 'database'>,
  partnerKey: string,
  partnerId: string,
  lookups: ClientRequest[],
): Promise<RunResult> {
  const pool = new Pool({ connectionString: config.database.url, max: config.database.poolSize });
  // pool.end() resolves once it has asked its connections to close, not once they have: the
  // database dropped right after may terminate one still closing, whose error must not end the run
  pool.on('error', () => undefined);
  const server = createServer((req, res) => {
    const code = decodeURIComponent((req.url ?? '').slice('/v1/partner/codes/'.length));
    if (req.headers['x-api-key'] !== partnerKey) return void res.writeHead(401).end();
    pool
      .query({
        name: 'plain_find_code',
        text: `SELECT c.code, c.status, c.item_id, c.valid_until, c.redeemed_at FROM item_codes c
               JOIN catalogue_items i ON i.id = c.item_id WHERE c.code = $1 AND i.partner_id = $2 ORDER BY c.id LIMIT 1`,
        values: [code, partnerId],
      })
      .then(({ rows: [row] }) => {
        const body = JSON.stringify(row);
        res.writeHead(row ? 200 : 404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body ?? '') }).end(body);
      })
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const started = process.hrtime.bigint();
    const latencies = await loadFromClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, lookups, 32);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      operations: lookups.length,
      seconds,
      perSecond: lookups.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await pool.end();
  }
}
