import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AttemptSignal } from './attempt-signal';
import {
  BullDeliveryQueue,
  DeliveryJobConsumer,
  DeliveryQueue,
  InProcessAttempts,
  InProcessDeliveryQueue,
  WEBHOOK_QUEUE,
} from './delivery-queue';
import { DeliveryService } from './delivery.service';
import { SecretBox } from './secret-box';
import { WebhookDispatcher } from './webhook-dispatcher.cron';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender } from './webhook-sender';
import { WebhookStager } from './webhook-stager';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/**
 * Outbound events. Business tables write the outbox themselves (triggers, see the migrations
 * 20261202150000_webhooks and 20261209100000_webhook_outbox_staged): no other capability calls
 * this module.
 */
@Module({})
export class WebhooksModule {
  /** With Redis, attempts travel as Bull jobs to any worker; without, they run in this process. */
  static register({ redis, jobs }: { redis: boolean; jobs: boolean }): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [AuditModule, ...(redis ? [BullModule.registerQueue({ name: WEBHOOK_QUEUE })] : [])],
      controllers: [WebhooksController],
      providers: [
        WebhooksRepository,
        WebhooksService,
        SecretBox,
        WebhookSender,
        WebhookMetrics,
        DeliveryService,
        WebhookStager,
        AttemptSignal,
        InProcessAttempts,
        WebhookDispatcher,
        ...(redis
          ? [...(jobs ? [DeliveryJobConsumer] : []), { provide: DeliveryQueue, useClass: BullDeliveryQueue }]
          : [{ provide: DeliveryQueue, useClass: InProcessDeliveryQueue }]),
      ],
      exports: [WebhookDispatcher],
    };
  }
}
