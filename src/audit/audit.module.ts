import { LiabilityController } from './liability.controller';
import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { AdminActionsRepository } from './admin-actions.repository';
import { AdminActionsService } from './admin-actions.service';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { ReconciliationController } from './reconciliation.controller';
import { ReconciliationRepository } from './reconciliation.repository';
import { ReconciliationService } from './reconciliation.service';
import { SealRepository } from './seal.repository';
import { SealService } from './seal.service';
import { TrialBalanceController } from './trial-balance.controller';

@Module({
  imports: [LedgerModule],
  controllers: [TrialBalanceController, ReconciliationController, AuditController, LiabilityController],
  providers: [
    AdminActionsRepository,
    AdminActionsService,
    ReconciliationRepository,
    ReconciliationService,
    AuditRepository,
    AuditService,
    SealRepository,
    SealService,
  ],
  exports: [AdminActionsService, ReconciliationService, SealService],
})
export class AuditModule {}
