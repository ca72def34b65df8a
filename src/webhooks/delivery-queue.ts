import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { untilAborted } from '../common/abort';
import { APP_CONFIG, AppConfig } from '../config/config';
import { AttemptSignal } from './attempt-signal';
import { DeliveryService } from './delivery.service';
import { ServedWebhook } from './webhooks.repository';

export const WEBHOOK_QUEUE = 'webhooks';
export const WEBHOOK_SERVE_JOB = 'serve';
const ENQUEUE_TIMEOUT_MS = 2_000;

type ServeJob = ServedWebhook;

/**
 * Webhooks served at once in this process (WEBHOOK_CONCURRENCY), each in its own promise, each
 * with at most WEBHOOK_PER_ENDPOINT attempts in flight: a receiver that hangs holds its own slot
 * until its attempts time out, never another webhook's.
 */
@Injectable()
export class InProcessAttempts {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly waiting: ServedWebhook[] = [];
  private running = 0;

  constructor(
    private readonly delivery: DeliveryService,
    private readonly signal: AttemptSignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  add(claims: ServedWebhook[]): void {
    this.waiting.push(...claims);
    this.pump();
  }

  get busy(): number {
    return this.running + this.waiting.length;
  }

  private pump(): void {
    while (this.running < this.config.webhooks.concurrency && this.waiting.length > 0) {
      const claim = this.waiting.shift()!;
      this.running++;
      this.delivery
        .serve(claim)
        .catch((error: Error) => this.logger.warn(`webhook ${claim.webhookId} left for a later hand-off: ${error.message}`))
        .finally(() => {
          this.running--;
          this.pump();
          this.signal.settled();
        });
    }
  }
}

/** Hands served webhooks to whoever serves them. Losing a hand-off loses nothing: its lease runs out and the dispatcher hands the webhook out again. */
export abstract class DeliveryQueue {
  abstract enqueue(claims: ServedWebhook[]): Promise<void>;
}

/** With Redis: a Bull job per hand-off of a webhook, taken by any worker. If Redis does not answer, this process serves them itself. */
@Injectable()
export class BullDeliveryQueue extends DeliveryQueue {
  private readonly logger = new Logger('WebhookQueue');
  private lastComplaint = 0;

  constructor(
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<ServeJob>,
    private readonly local: InProcessAttempts,
  ) {
    super();
    queue.on('error', (error: Error) => this.complain(error));
  }

  async enqueue(claims: ServedWebhook[]): Promise<void> {
    const adding = this.queue.addBulk(
      claims.map((c) => ({
        name: WEBHOOK_SERVE_JOB,
        data: { webhookId: c.webhookId, token: c.token },
        // one job per hand-off: a job that outlived it (lost, or held by a dead worker) finds a newer token and does nothing
        opts: { jobId: `${c.webhookId}:${c.token}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
      })),
    );
    adding.catch(() => undefined);
    try {
      await untilAborted(adding, AbortSignal.timeout(ENQUEUE_TIMEOUT_MS));
    } catch (error) {
      this.complain((error as Error).name === 'TimeoutError' ? new Error('Redis did not answer in time') : (error as Error));
      this.local.add(claims);
    }
  }

  private complain(error: Error): void {
    if (Date.now() - this.lastComplaint < 10_000) return;
    this.lastComplaint = Date.now();
    this.logger.warn(`queue unavailable, serving webhooks in this process: ${error.message}`);
  }
}

/** Consumes the queue in this process (registered by hand, like the earn queue's consumer). */
@Injectable()
export class DeliveryJobConsumer implements OnModuleInit {
  private readonly logger = new Logger('WebhookJobConsumer');

  constructor(
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<ServeJob>,
    private readonly delivery: DeliveryService,
    private readonly signal: AttemptSignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(WEBHOOK_SERVE_JOB, this.config.webhooks.concurrency, (job: Job<ServeJob>) =>
        this.delivery.serve(job.data).finally(() => this.signal.settled()),
      )
      .catch((error: Error) =>
        this.logger.error(`webhook queue consumer stopped: ${error.message}; webhooks handed out wait for their lease to run out`),
      );
  }
}

/** Without Redis (the demo): webhooks are served in this process. */
@Injectable()
export class InProcessDeliveryQueue extends DeliveryQueue {
  constructor(private readonly local: InProcessAttempts) {
    super();
  }

  enqueue(claims: ServedWebhook[]): Promise<void> {
    this.local.add(claims);
    return Promise.resolve();
  }
}
