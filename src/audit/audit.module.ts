import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { AdminActionsRepository } from './admin-actions.repository';
import { TrialBalanceController } from './trial-balance.controller';

@Module({
  imports: [LedgerModule],
  controllers: [TrialBalanceController],
  providers: [AdminActionsRepository],
  exports: [AdminActionsRepository],
})
export class AuditModule {}
