import { randomUUID } from 'node:crypto';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { Decimal } from '../../src/common/money';
import { APP_CONFIG, AppConfig } from '../../src/config/config';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { ISSUED_ACCOUNT, residentAccount } from '../../src/ledger/domain/account';
import { LedgerService } from '../../src/ledger/ledger.service';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, loadFromClient } from '../support/client';
import { BenchApp } from '../support/service';

/** Two runs of one scenario as one: operations and time added, the latencies' worse percentile. */
function combined(a: RunResult, b: RunResult): RunResult {
  const operations = a.operations + b.operations;
  const seconds = a.seconds + b.seconds;
  return { operations, seconds, perSecond: operations / seconds, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99) };
}

/** Lots each resident of the "with expiry" redemptions holds: a year of monthly accruals. */
const LOTS_PER_SHOPPER = 12;
/** Accruals per ledger call when crediting the month's-end lots: an earn batch's size. */
const CREDIT_BATCH = 1000;

/**
 * Points expiry's cost, in one run:
 * - redemptions by 64 residents at once through HTTP, by residents whose points never expire (one
 *   lot each) and by residents whose points sit in a year of monthly lots with expiries (the spend
 *   takes from the soonest first and records its lot moves): after a warm-up round, two rounds
 *   of each, interleaved;
 * - a month's end: `lots` lots credited (one accrual each, to as many residents, in batches of
 *   1000 through the ledger's door, as earn batches are), then all of them past their expiry and
 *   recorded by the expiry run.
 */
export async function expiry(
  o: BenchOptions & { lots: number },
  { app, base, adminKey, call }: BenchApp,
): Promise<{ plain: RunResult; expiring: RunResult; credit: RunResult; expire: RunResult }> {
  const ledger = app.get(LedgerService);
  const config = app.get<AppConfig>(APP_CONFIG);
  await call('/v1/admin/partners', { id: 'kiosk', name: 'Kiosk', kind: 'shop' }, adminKey);
  const items = ['ticket', 'paper', 'pass', 'snack'];
  for (const id of items) {
    await call(
      '/v1/admin/catalogue-items',
      { id, kind: 'PROMO_CODE', title: id, partnerId: 'kiosk', pricePoints: '10', codeSource: 'GENERATED' },
      adminKey,
    );
  }
  // two rounds of each, interleaved after a warm-up, so that neither side gets the cold start
  const perResident = Math.max(1, Math.ceil(o.redemptions / 2 / 64));

  const redemptions = async (prefix: string, lotsEach: number): Promise<RunResult> => {
    const residents = Array.from({ length: 64 }, (_, i) => `${prefix}${i}`);
    const monthly = Math.ceil((perResident * 10) / lotsEach);
    for (const r of residents) {
      await ledger.recordMany(
        Array.from({ length: lotsEach }, (_, m) => ({
          type: 'earn',
          postings: [
            { account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D' as const, amount: new Decimal(monthly) },
            { account: residentAccount(r), asset: 'POINTS', side: 'C' as const, amount: new Decimal(monthly) },
          ],
          creditExpiresAt: lotsEach > 1 ? new Date(Date.now() + (m + 1) * 30 * 86_400_000) : undefined,
        })),
      );
    }
    const tokens = residents.map((r) => signResidentToken(r, config.residentJwtSecret!, 3600));
    const requests: ClientRequest[] = Array.from({ length: perResident * residents.length }, (_, i) => ({
      method: 'POST',
      path: '/v1/me/redemptions',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[i % 64]}`, 'Idempotency-Key': randomUUID() },
      body: JSON.stringify({ itemId: items[i % items.length] }),
      expect: 201,
    }));
    const started = process.hrtime.bigint();
    const latencies = await loadFromClient(base, requests, 64);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      operations: requests.length,
      seconds,
      perSecond: requests.length / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  };
  await redemptions('warm', 1);
  const plain1 = await redemptions('keeper', 1);
  const expiring1 = await redemptions('saver', LOTS_PER_SHOPPER);
  const plain2 = await redemptions('keeper2-', 1);
  const expiring2 = await redemptions('saver2-', LOTS_PER_SHOPPER);
  const plain = combined(plain1, plain2);
  const expiring = combined(expiring1, expiring2);

  // a month's end: one lot per resident, expiring together
  const monthEnd = new Date(Date.now() + 86_400_000);
  const creditLatencies: number[] = [];
  const cStarted = process.hrtime.bigint();
  for (let from = 0; from < o.lots; from += CREDIT_BATCH) {
    const t0 = process.hrtime.bigint();
    await ledger.recordMany(
      Array.from({ length: Math.min(CREDIT_BATCH, o.lots - from) }, (_, i) => ({
        type: 'earn',
        postings: [
          { account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D' as const, amount: new Decimal(25) },
          { account: residentAccount(`month${from + i}`), asset: 'POINTS', side: 'C' as const, amount: new Decimal(25) },
        ],
        creditExpiresAt: monthEnd,
      })),
    );
    creditLatencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cSeconds = Number(process.hrtime.bigint() - cStarted) / 1e9;
  creditLatencies.sort((a, b) => a - b);
  const credit = {
    operations: o.lots,
    seconds: cSeconds,
    perSecond: o.lots / cSeconds,
    p50: percentile(creditLatencies, 50),
    p99: percentile(creditLatencies, 99),
  };

  // the month ends: the lots' expiry is moved into the past, as time passing would
  await app
    .get(PrismaService)
    .$executeRawUnsafe(`UPDATE ledger_lots SET expires_at = now() - interval '1 second' WHERE expires_at = $1`, monthEnd);
  await app
    .get(PrismaService)
    .$executeRawUnsafe(`UPDATE account_balances SET next_expiry = now() - interval '1 second' WHERE next_expiry = $1`, monthEnd);
  // what autovacuum would long have done by a real month's end: the lots and balance rows were
  // written minutes ago and all of them updated just now
  await app.get(PrismaService).$executeRawUnsafe(`ANALYZE ledger_lots, account_balances, ledger_accounts`);
  const eStarted = process.hrtime.bigint();
  await ledger.expireLots(new Date());
  const eSeconds = Number(process.hrtime.bigint() - eStarted) / 1e9;
  const [left] = await app
    .get(PrismaService)
    .$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ledger_lots WHERE remaining > 0 AND expires_at <= now()`);
  if (left.n > 0) throw new Error(`the expiry run left ${left.n} expired lots`);
  const expire = { operations: o.lots, seconds: eSeconds, perSecond: o.lots / eSeconds, p50: 0, p99: 0 };
  return { plain, expiring, credit, expire };
}
