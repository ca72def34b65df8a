import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { untilAborted } from '../common/abort';
import { EarnProcessor } from './earn-processor.service';

export const EARN_QUEUE = 'earn';
export const EARN_BATCH_JOB = 'batch';
const ENQUEUE_TIMEOUT_MS = 2_000;

/** Hands accepted events to processing. Losing a hand-off loses nothing: the sweeper finds them. */
export abstract class EarnQueue {
  abstract enqueue(ids: string[]): Promise<void>;
  /** The queue's jobs by state; null without a queue (processing in-process). */
  abstract jobCounts(): Promise<Record<string, number> | null>;
}

/** With Redis: a Bull job per accepted batch, retried with backoff, processed by any worker. */
@Injectable()
export class BullEarnQueue extends EarnQueue {
  private readonly logger = new Logger('EarnQueue');
  private lastComplaint = 0;

  constructor(@InjectQueue(EARN_QUEUE) private readonly queue: Queue<{ ids: string[] }>) {
    super();
    // Redis going away must not take the process down: intake stores events regardless and the
    // sweeper processes them; say so in the log, at most every 10 s
    queue.on('error', (error: Error) => {
      if (Date.now() - this.lastComplaint < 10_000) return;
      this.lastComplaint = Date.now();
      this.logger.warn(`queue unavailable: ${error.message}`);
    });
  }

  /** Gives up after a short wait: with Redis down, the answer must not wait for it. */
  async enqueue(ids: string[]): Promise<void> {
    const adding = this.add(ids);
    adding.catch(() => undefined); // a late failure after the timeout is already reported
    await untilAborted(adding, AbortSignal.timeout(ENQUEUE_TIMEOUT_MS)).catch((error: Error) => {
      throw error.name === 'TimeoutError' ? new Error('Redis did not answer in time') : error;
    });
  }

  jobCounts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts() as unknown as Promise<Record<string, number>>;
  }

  private async add(ids: string[]): Promise<void> {
    await this.queue.add(
      EARN_BATCH_JOB,
      { ids },
      {
        jobId: `earn:${ids[0]}`,
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: true,
        removeOnFail: 1000,
      },
    );
  }
}

/**
 * Consumes the queue in this process. Registered by hand rather than with @Process so that a
 * Redis that cannot be reached is logged, not an unhandled rejection that ends the process.
 */
@Injectable()
export class EarnJobConsumer implements OnModuleInit {
  private readonly logger = new Logger('EarnJobConsumer');

  constructor(
    @InjectQueue(EARN_QUEUE) private readonly queue: Queue<{ ids: string[] }>,
    private readonly processor: EarnProcessor,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(EARN_BATCH_JOB, 3, (job: Job<{ ids: string[] }>) => this.processor.processBatch(job.data.ids))
      .catch((error: Error) => this.logger.error(`earn queue consumer stopped: ${error.message}; the sweeper keeps posting`));
  }
}

/** Without Redis (the demo): the same processing, in this process, one batch after another. */
@Injectable()
export class InProcessEarnQueue extends EarnQueue {
  private readonly logger = new Logger('EarnQueue');
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly processor: EarnProcessor) {
    super();
  }

  jobCounts(): Promise<null> {
    return Promise.resolve(null);
  }

  enqueue(ids: string[]): Promise<void> {
    this.tail = this.tail
      .then(() => this.processor.processBatch(ids))
      .catch((error: Error) => this.logger.warn(`batch left for the sweeper: ${error.message}`));
    return Promise.resolve();
  }
}
