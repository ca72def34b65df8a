import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { CatalogueAdminController, PartnerCodeUploadController, PublicCatalogueController } from './catalogue.controller';
import { CategoriesAdminController, PublicCategoriesController } from './categories.controller';
import { CategoriesRepository } from './categories.repository';
import { CategoriesService } from './categories.service';
import { CatalogueRepository } from './catalogue.repository';
import { CatalogueService } from './catalogue.service';

@Module({
  imports: [LedgerModule],
  controllers: [
    CatalogueAdminController,
    PartnerCodeUploadController,
    PublicCategoriesController,
    PublicCatalogueController,
    CategoriesAdminController,
  ],
  providers: [CatalogueRepository, CatalogueService, CategoriesRepository, CategoriesService],
  exports: [CatalogueService, CategoriesService],
})
export class CatalogueModule {}
