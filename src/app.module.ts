import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AuthModule } from './auth/auth.module';
import { AppConfig, runsBackgroundWork } from './config/config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './infra/database/database.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { HealthModule } from './infra/health/health.module';
import { LoggingModule, LoggingOptions } from './infra/logging/logging.module';
import { MetricsModule } from './infra/metrics/metrics.module';
import { QueueModule } from './infra/queue/queue.module';
import { ProcessScheduleModule } from './infra/schedule/schedule.module';
import { EarningModule } from './earning/earning.module';
import { LedgerModule } from './ledger/ledger.module';
import { ProgrammeModule } from './programme/programme.module';
import { AuditModule } from './audit/audit.module';
import { AwardsModule } from './awards/awards.module';
import { CatalogueModule } from './catalogue/catalogue.module';
import { PartnersModule } from './partners/partners.module';
import { PublicModule } from './public/public.module';
import { RedemptionModule } from './redemption/redemption.module';
import { ResidentsModule } from './residents/residents.module';
import { WebhooksModule } from './webhooks/webhooks.module';
import { PagesModule } from './pages/pages.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logging: LoggingOptions = {}): DynamicModule {
    // with Redis, jobs travel through Bull; a process consumes them unless it is an API process only
    const queues = { redis: Boolean(config.redisUrl), jobs: runsBackgroundWork(config) };
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config, logging),
        ScheduleModule.forRoot(),
        ProcessScheduleModule,
        DatabaseModule,
        QueueModule,
        IdempotencyModule,
        HealthModule,
        MetricsModule,
        AuthModule,
        ProgrammeModule,
        ...(config.redisUrl ? [BullModule.forRoot({ url: config.redisUrl, prefix: config.queuePrefix })] : []),
        LedgerModule,
        EarningModule.register(queues),
        CatalogueModule,
        RedemptionModule,
        PartnersModule.register({ perMinute: config.partnerCodeRatePerMinute }),
        AuditModule,
        PublicModule,
        ResidentsModule,
        AwardsModule.register(queues),
        WebhooksModule.register(queues),
        PagesModule,
      ],
    };
  }
}
