import { Module } from '@nestjs/common';
import { AdminActionsRepository } from './admin-actions.repository';

@Module({
  providers: [AdminActionsRepository],
  exports: [AdminActionsRepository],
})
export class AuditModule {}
