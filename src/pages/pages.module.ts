import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CatalogueModule } from '../catalogue/catalogue.module';
import { LedgerModule } from '../ledger/ledger.module';
import { ProgrammeModule } from '../programme/programme.module';
import { RedemptionModule } from '../redemption/redemption.module';
import { DemoSignIns } from './demo-sign-ins';
import { FinancePagesController } from './finance/finance-pages.controller';
import { FinancePagesService } from './finance/finance-pages.service';
import { LoginController } from './login.controller';
import { PageAccessGuard, PageErrorFilter, PageFrames } from './page-access';
import { PageViews } from './page-views';
import { PagesSecurity } from './pages-security';
import { ResidentPagesController } from './resident/resident-pages.controller';
import { ResidentPagesService } from './resident/resident-pages.service';
import { SessionsRepository } from './sessions/sessions.repository';
import { SessionsService } from './sessions/sessions.service';
import { TillPagesController } from './till/till-pages.controller';
import { TillPagesService } from './till/till-pages.service';

/** Pages for people under /app: residents, partners' tills, and the finance console. */
@Module({
  imports: [AuditModule, AuthModule, CatalogueModule, LedgerModule, ProgrammeModule, RedemptionModule],
  controllers: [LoginController, TillPagesController, FinancePagesController, ResidentPagesController],
  providers: [
    SessionsRepository,
    SessionsService,
    PagesSecurity,
    PageViews,
    PageFrames,
    PageAccessGuard,
    PageErrorFilter,
    DemoSignIns,
    ResidentPagesService,
    TillPagesService,
    FinancePagesService,
  ],
  exports: [DemoSignIns, SessionsService],
})
export class PagesModule {}
