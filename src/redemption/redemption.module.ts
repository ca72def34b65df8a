import { Module } from '@nestjs/common';
import { CatalogueModule } from '../catalogue/catalogue.module';
import { LedgerModule } from '../ledger/ledger.module';
import { RedemptionController } from './redemption.controller';
import { RedemptionRepository } from './redemption.repository';
import { RedemptionService } from './redemption.service';

@Module({
  imports: [CatalogueModule, LedgerModule],
  controllers: [RedemptionController],
  providers: [RedemptionRepository, RedemptionService],
  exports: [RedemptionService],
})
export class RedemptionModule {}
