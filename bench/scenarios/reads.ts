import { signResidentToken } from '../../src/auth/domain/resident-token';
import { Decimal } from '../../src/common/money';
import { APP_CONFIG, AppConfig } from '../../src/config/config';
import { LedgerService, NewTransaction } from '../../src/ledger/ledger.service';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, loadFromClient } from '../support/client';
import { ISSUED_ACCOUNT, residentAccount } from '../../src/ledger/domain/account';
import { BenchApp } from '../support/service';

/**
 * Reads over HTTP: a resident's balance with `--history` entries behind it and with one (the
 * balance must not depend on history length), history pages (first and deep, by cursor), and
 * the trial balance now and as of a past moment.
 */
export async function readScenarios(
  o: BenchOptions,
  { app, base, adminKey }: BenchApp,
): Promise<{ rows: [string, RunResult][]; heavyP50: number; lightP50: number }> {
  const ledger = app.get(LedgerService);
  const config = app.get<AppConfig>(APP_CONFIG);
  const one = new Decimal(1);
  const accrual = (resident: string): NewTransaction => ({
    type: 'earn',
    description: 'Vote in a city poll',
    postings: [
      { account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D', amount: one },
      { account: residentAccount(resident), asset: 'POINTS', side: 'C', amount: one },
    ],
  });
  for (let written = 0; written < o.history; written += 1000) {
    await ledger.recordMany(Array.from({ length: Math.min(1000, o.history - written) }, () => accrual('heavy')));
  }
  await ledger.record(accrual('light'));
  const past = new Date(Date.now() - 1000).toISOString();
  const token = (r: string) => `Bearer ${signResidentToken(r, config.residentJwtSecret!, 3600)}`;
  const get = (path: string, headers: Record<string, string>, n: number): ClientRequest[] =>
    Array.from({ length: n }, () => ({ method: 'GET' as const, path, headers, expect: 200 }));
  const run = async (requests: ClientRequest[], concurrency: number): Promise<RunResult> => {
    const started = process.hrtime.bigint();
    const latencies = await loadFromClient(base, requests, concurrency);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      operations: requests.length,
      seconds,
      perSecond: requests.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  };
  const heavy = await run(get('/v1/me/balance', { Authorization: token('heavy') }, 4000), 16);
  const light = await run(get('/v1/me/balance', { Authorization: token('light') }, 4000), 16);
  // a deep page: the cursor of an entry half-way down the heavy resident's history
  const deep = await fetch(`${base}/v1/me/history?limit=100`, { headers: { Authorization: token('heavy') } }).then(
    (r) => r.json() as Promise<{ nextCursor: string | null }>,
  );
  let cursor = deep.nextCursor;
  for (let i = 0; i < 5 && cursor; i++) {
    const page = await fetch(`${base}/v1/me/history?limit=100&cursor=${encodeURIComponent(cursor)}`, {
      headers: { Authorization: token('heavy') },
    }).then((r) => r.json() as Promise<{ nextCursor: string | null }>);
    cursor = page.nextCursor;
  }
  const firstPage = await run(get('/v1/me/history?limit=50', { Authorization: token('heavy') }, 2000), 16);
  const deepPage = cursor
    ? await run(get(`/v1/me/history?limit=50&cursor=${encodeURIComponent(cursor)}`, { Authorization: token('heavy') }, 2000), 16)
    : firstPage;
  const trialNow = await run(get('/v1/audit/trial-balance', { 'X-API-Key': adminKey }, 200), 4);
  const trialPast = await run(get(`/v1/audit/trial-balance?asOf=${encodeURIComponent(past)}`, { 'X-API-Key': adminKey }, 50), 4);
  return {
    rows: [
      [`balance read: resident with ${o.history} history entries`, heavy],
      ['balance read: resident with one entry', light],
      ['history: first page of 50 (heavy resident)', firstPage],
      ['history: a page of 50 past the first 600 (by cursor)', deepPage],
      ['trial balance now (all accounts)', trialNow],
      ['trial balance as of a past moment', trialPast],
    ],
    heavyP50: heavy.p50,
    lightP50: light.p50,
  };
}

/** Steady mixed reads for `seconds` (balances, histories, the catalogue), RSS sampled every tenth. */
export async function soakLoad({ base, app }: BenchApp, seconds: number): Promise<{ perSecond: number; samples: number[] }> {
  const config = app.get<AppConfig>(APP_CONFIG);
  const token = `Bearer ${signResidentToken('heavy', config.residentJwtSecret!, 3600 + seconds)}`;
  const mix: ClientRequest[] = [
    { method: 'GET', path: '/v1/me/balance', headers: { Authorization: token }, expect: 200 },
    { method: 'GET', path: '/v1/me/history?limit=20', headers: { Authorization: token }, expect: 200 },
    { method: 'GET', path: '/v1/catalogue', headers: {}, expect: 200 },
  ];
  const samples = [process.memoryUsage().rss];
  const started = Date.now();
  let requests = 0;
  for (let slice = 1; slice <= 10; slice++) {
    while (Date.now() - started < (seconds * 1000 * slice) / 10) {
      const chunk = Array.from({ length: 3000 }, (_, i) => mix[i % mix.length]);
      await loadFromClient(base, chunk, 16);
      requests += chunk.length;
    }
    samples.push(process.memoryUsage().rss);
  }
  return { perSecond: requests / ((Date.now() - started) / 1000), samples };
}
