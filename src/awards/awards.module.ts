import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { AwardExecutor } from './award-executor.service';
import { AWARD_QUEUE, AwardJobConsumer, AwardQueue, AwardRunner, BullAwardQueue, InProcessAwardQueue } from './award-queue';
import { AwardSweeper } from './award-sweeper.cron';
import { AwardsController } from './awards.controller';
import { AwardsRepository } from './awards.repository';
import { AwardsService } from './awards.service';

/** Bulk awards: upload, validate, then credit a million rows exactly once (docs/api.md, "Bulk awards"). */
@Module({})
export class AwardsModule {
  /** With Redis, an execute travels as a Bull job to any worker; without, it runs in this process. */
  static register({ redis, jobs }: { redis: boolean; jobs: boolean }): DynamicModule {
    return {
      module: AwardsModule,
      // global: the finance console (PagesModule, a static module) lists the awards through AwardsService
      global: true,
      imports: [LedgerModule, ...(redis ? [BullModule.registerQueue({ name: AWARD_QUEUE })] : [])],
      controllers: [AwardsController],
      providers: [
        AwardsRepository,
        AwardsService,
        AwardExecutor,
        AwardRunner,
        AwardSweeper,
        ...(redis
          ? [...(jobs ? [AwardJobConsumer] : []), { provide: AwardQueue, useClass: BullAwardQueue }]
          : [{ provide: AwardQueue, useClass: InProcessAwardQueue }]),
      ],
      exports: [AwardsService, AwardRunner],
    };
  }
}
