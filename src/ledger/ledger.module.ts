import { Module } from '@nestjs/common';
import { AdjustmentsController } from './adjustments.controller';
import { AdjustmentsService } from './adjustments.service';
import { HoldExpiryCron } from './hold-expiry.cron';
import { LedgerController } from './ledger.controller';
import { LedgerRepository } from './ledger.repository';
import { LedgerService } from './ledger.service';

@Module({
  controllers: [LedgerController, AdjustmentsController],
  providers: [LedgerRepository, LedgerService, AdjustmentsService, HoldExpiryCron],
  exports: [LedgerService],
})
export class LedgerModule {}
