import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { APP_CONFIG, AppConfig } from '../config/config';
import { AttemptSignal } from './attempt-signal';
import { DeliveryService } from './delivery.service';
import { ClaimedDelivery } from './webhooks.repository';

export const WEBHOOK_QUEUE = 'webhooks';
export const WEBHOOK_ATTEMPT_JOB = 'attempt';
const ENQUEUE_TIMEOUT_MS = 2_000;

interface AttemptJob {
  deliveryId: string;
  lease: number;
}

/**
 * Attempts at once in this process, each in its own promise: a receiver that hangs holds one
 * slot until its timeout, never the others (the dispatcher also leases at most WEBHOOK_PER_ENDPOINT
 * deliveries per webhook at once, so one webhook cannot take every slot).
 */
@Injectable()
export class InProcessAttempts {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly waiting: ClaimedDelivery[] = [];
  private running = 0;

  constructor(
    private readonly delivery: DeliveryService,
    private readonly signal: AttemptSignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  add(claims: ClaimedDelivery[]): void {
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
        .attempt(claim.id, claim.lease)
        .catch((error: Error) => this.logger.warn(`delivery ${claim.id} left for a later attempt: ${error.message}`))
        .finally(() => {
          this.running--;
          this.pump();
          this.signal.settled();
        });
    }
  }
}

/** Hands leased deliveries to attempts. Losing a hand-off loses nothing: the lease runs out and the dispatcher takes it again. */
export abstract class DeliveryQueue {
  abstract enqueue(claims: ClaimedDelivery[]): Promise<void>;
}

/** With Redis: a Bull job per attempt, taken by any worker. If Redis does not answer, this process attempts them itself. */
@Injectable()
export class BullDeliveryQueue extends DeliveryQueue {
  private readonly logger = new Logger('WebhookQueue');
  private lastComplaint = 0;

  constructor(
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<AttemptJob>,
    private readonly local: InProcessAttempts,
  ) {
    super();
    queue.on('error', (error: Error) => this.complain(error));
  }

  async enqueue(claims: ClaimedDelivery[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis did not answer in time')), ENQUEUE_TIMEOUT_MS);
    });
    const adding = this.queue.addBulk(
      claims.map((c) => ({
        name: WEBHOOK_ATTEMPT_JOB,
        data: { deliveryId: c.id, lease: c.lease },
        // one job per lease: a job that outlived its lease (lost, or held by a dead worker) finds a newer lease and does nothing
        opts: { jobId: `${c.id}:${c.lease}`, attempts: 1, removeOnComplete: true, removeOnFail: true },
      })),
    );
    adding.catch(() => undefined);
    try {
      await Promise.race([adding, timeout]);
    } catch (error) {
      this.complain(error as Error);
      this.local.add(claims);
    } finally {
      clearTimeout(timer);
    }
  }

  private complain(error: Error): void {
    if (Date.now() - this.lastComplaint < 10_000) return;
    this.lastComplaint = Date.now();
    this.logger.warn(`queue unavailable, attempting deliveries in this process: ${error.message}`);
  }
}

/** Consumes the queue in this process (registered by hand, like the earn queue's consumer). */
@Injectable()
export class DeliveryJobConsumer implements OnModuleInit {
  private readonly logger = new Logger('WebhookJobConsumer');

  constructor(
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<AttemptJob>,
    private readonly delivery: DeliveryService,
    private readonly signal: AttemptSignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(WEBHOOK_ATTEMPT_JOB, this.config.webhooks.concurrency, (job: Job<AttemptJob>) =>
        this.delivery.attempt(job.data.deliveryId, job.data.lease).finally(() => this.signal.settled()),
      )
      .catch((error: Error) =>
        this.logger.error(`webhook queue consumer stopped: ${error.message}; the dispatcher attempts deliveries itself`),
      );
  }
}

/** Without Redis (the demo): attempts run in this process. */
@Injectable()
export class InProcessDeliveryQueue extends DeliveryQueue {
  constructor(private readonly local: InProcessAttempts) {
    super();
  }

  enqueue(claims: ClaimedDelivery[]): Promise<void> {
    this.local.add(claims);
    return Promise.resolve();
  }
}
