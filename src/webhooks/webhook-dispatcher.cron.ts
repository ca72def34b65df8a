import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { AttemptSignal } from './attempt-signal';
import { DeliveryQueue } from './delivery-queue';
import { WebhookStager } from './webhook-stager';
import { WebhooksRepository } from './webhooks.repository';

/** Webhooks handed out per pass (a full pass is followed by another at once). */
const CLAIM_BATCH = 50;

/**
 * Moves the outbox: every WEBHOOK_DISPATCH_MS, and each time a hand-off in this process ends, it
 * expands what is staged (WebhookStager), then hands out the webhooks that have a due delivery
 * and nobody serving them, one queued job each (DeliveryService.serve then sends that webhook's
 * deliveries in rounds until none is due). It is
 * also the sweeper: a webhook whose hand-off ran out (its job lost in a Redis flush, its worker
 * killed) is handed out again like any other. Safe on many replicas: a webhook goes to one of them.
 */
@Injectable()
export class WebhookDispatcher implements OnModuleInit {
  private readonly logger = new Logger('WebhookDispatcher');
  private running = false;
  private again = false;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly queue: DeliveryQueue,
    private readonly scheduler: SchedulerRegistry,
    signal: AttemptSignal,
    private readonly leases: ScheduleLeases,
    private readonly stager: WebhookStager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    signal.onSettled(() => void this.dispatch());
  }

  onModuleInit(): void {
    // the outbox's sweep runs in one process at a time (see ScheduleLeases); the end of a
    // hand-off still starts a pass in the process that served it
    const every = this.config.webhooks.dispatchMs;
    const timer = setInterval(
      () => void this.leases.exclusive('webhook-dispatcher', Math.max(3 * every, 5_000), () => this.dispatch()),
      every,
    );
    timer.unref();
    this.scheduler.addInterval('webhook-dispatcher', timer);
  }

  /** Hands out and queues the webhooks with something due, until none is left; returns how many. */
  async dispatch(): Promise<number> {
    if (this.running) {
      // asked while a pass runs (an attempt just ended): one more pass when it is done
      this.again = true;
      return 0;
    }
    this.running = true;
    let queued = 0;
    try {
      const { leaseSeconds } = this.config.webhooks;
      // what the changes' transactions staged becomes events and deliveries first (a failure here
      // does not keep the deliveries already written from being handed out)
      await this.stager.drain().catch((error: Error) => this.logger.error(`webhook outbox expansion failed: ${error.message}`));
      for (;;) {
        this.again = false;
        const claims = await this.repository.claimWebhooks(CLAIM_BATCH, leaseSeconds);
        if (claims.length > 0) await this.queue.enqueue(claims);
        queued += claims.length;
        if (claims.length < CLAIM_BATCH && !this.again) break;
      }
    } catch (error) {
      this.logger.error(`webhook dispatch failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
    return queued;
  }
}
