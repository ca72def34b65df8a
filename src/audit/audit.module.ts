import { LiabilityController } from './liability.controller';
import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { AdminActionsRepository } from './admin-actions.repository';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { ReconciliationController } from './reconciliation.controller';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationService } from './reconciliation.service';
import { SealRepository } from './seal.repository';
import { SealService } from './seal.service';
import { TrialBalanceController } from './trial-balance.controller';

@Module({
  imports: [LedgerModule],
  controllers: [TrialBalanceController, ReconciliationController, AuditController, LiabilityController],
  providers: [AdminActionsRepository, ReconciliationRepository, ReconciliationService, AuditRepository, SealRepository, SealService],
  exports: [AdminActionsRepository, ReconciliationService, SealService],
})
export class AuditModule {}
