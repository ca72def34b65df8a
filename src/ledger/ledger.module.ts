import { Module } from '@nestjs/common';
import { AdjustmentsController } from './adjustments.controller';
import { AdjustmentsService } from './adjustments.service';
import { BalanceCheckpointsRepository } from './balance-checkpoints.repository';
import { BalanceCheckpointsService } from './balance-checkpoints.service';
import { DailyFiguresJob } from './daily-figures.job';
import { DailyTotalsRepository } from './daily-totals.repository';
import { ExpiryPolicyController } from './expiry-policy.controller';
import { HoldExpiryCron } from './hold-expiry.cron';
import { JournalPartitionsJob } from './journal-partitions.job';
import { JournalPartitionsRepository } from './journal-partitions.repository';
import { LotExpiryCron } from './lot-expiry.cron';
import { LedgerController } from './ledger.controller';
import { LedgerReadRepository } from './ledger-read.repository';
import { LedgerReadService } from './ledger-read.service';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

@Module({
  controllers: [LedgerController, AdjustmentsController, ExpiryPolicyController],
  providers: [
    LedgerRepository,
    LedgerService,
    LedgerReadRepository,
    LedgerReadService,
    AdjustmentsService,
    HoldExpiryCron,
    LotExpiryCron,
    DailyTotalsRepository,
    DailyFiguresJob,
    JournalPartitionsRepository,
    JournalPartitionsJob,
    BalanceCheckpointsRepository,
    BalanceCheckpointsService,
  ],
  exports: [LedgerService, LedgerReadService, BalanceCheckpointsService],
})
export class LedgerModule {}
