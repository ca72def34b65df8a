import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { EarnBacklogMetrics } from './earn-backlog.metrics';
import { EarnEventsController } from './earn-events.controller';
import { EarnProcessor } from './earn-processor.service';
import { BullEarnQueue, EARN_QUEUE, EarnJobConsumer, EarnQueue, InProcessEarnQueue } from './earn-queue';
import { EarnSweeper } from './earn-sweeper.cron';
import { EarningAdminService } from './earning-admin.service';
import { EarningRulesController } from './earning-rules.controller';
import { EarningRepository } from './earning.repository';
import { EarningService } from './earning.service';
import { RuleBook } from './rule-book.service';

@Module({})
export class EarningModule {
  /** With Redis, accepted events travel as Bull jobs; without, they are processed in this process. */
  static register({ redis, jobs }: { redis: boolean; jobs: boolean }): DynamicModule {
    return {
      module: EarningModule,
      imports: [LedgerModule, ...(redis ? [BullModule.registerQueue({ name: EARN_QUEUE })] : [])],
      controllers: [EarnEventsController, EarningRulesController],
      providers: [
        EarningRepository,
        RuleBook,
        EarnProcessor,
        EarningService,
        EarningAdminService,
        EarnSweeper,
        EarnBacklogMetrics,
        ...(redis
          ? [...(jobs ? [EarnJobConsumer] : []), { provide: EarnQueue, useClass: BullEarnQueue }]
          : [{ provide: EarnQueue, useClass: InProcessEarnQueue }]),
      ],
      exports: [EarningService, EarnProcessor, EarnSweeper],
    };
  }
}
