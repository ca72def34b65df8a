import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { CatalogueAdminController, PartnerCodeUploadController, PublicCatalogueController } from './catalogue.controller';
import { CatalogueRepository } from './catalogue.repository';
import { CatalogueService } from './catalogue.service';

@Module({
  imports: [LedgerModule],
  controllers: [CatalogueAdminController, PartnerCodeUploadController, PublicCatalogueController],
  providers: [CatalogueRepository, CatalogueService],
  exports: [CatalogueService],
})
export class CatalogueModule {}
