import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module';
import { ApiClientsController } from './api-clients.controller';
import { ApiClientsRepository } from './api-clients.repository';
import { ApiClientsService } from './api-clients.service';
import { AuthGuard } from './auth.guard';

@Module({
  imports: [AuditModule],
  controllers: [ApiClientsController],
  providers: [ApiClientsRepository, ApiClientsService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [ApiClientsService],
})
export class AuthModule {}
