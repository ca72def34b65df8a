import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { Decimal } from '../../src/common/money';
import { loadConfig } from '../../src/config/config';
import { LedgerService } from '../../src/ledger/ledger.service';
import { BenchOptions, RESIDENTS } from '../options';
import { ISSUED_ACCOUNT, residentAccount } from '../../src/ledger/domain/account';
import { measure, RunResult } from '../stats';

/** The ledger service called in process: one earn per call, `workers` at once. */
export async function ledgerService(o: BenchOptions, url: string): Promise<RunResult> {
  const config = loadConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: String(o.workers), LOG_LEVEL: 'error' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  const ledger = app.get(LedgerService);
  const ten = new Decimal(10);
  // accounts exist before timing starts, as they would in a running programme
  await measure(RESIDENTS, o.workers, (i) => earn(ledger, i, ten));
  const result = await measure(o.transfers, o.workers, (i) => earn(ledger, i, ten));
  await app.close();
  return result;
}

function earn(ledger: LedgerService, i: number, amount: Decimal) {
  return ledger.record({
    type: 'earn',
    postings: [
      { account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D', amount },
      { account: residentAccount(`b${i % RESIDENTS}`), asset: 'POINTS', side: 'C', amount },
    ],
  });
}
