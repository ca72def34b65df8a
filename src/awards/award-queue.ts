import { InjectQueue } from '@nestjs/bull';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { untilAborted } from '../common/abort';
import { AwardExecutor } from './award-executor.service';

export const AWARD_QUEUE = 'awards';
export const AWARD_EXECUTE_JOB = 'execute';
const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * The executions running in this process: one per award at most; stopped (after the chunk in
 * hand) when the process stops, their leases released so that another process goes on at once.
 */
@Injectable()
export class AwardRunner implements OnModuleDestroy {
  private readonly logger = new Logger('AwardRunner');
  private readonly stopping = new AbortController();
  private readonly running = new Map<string, Promise<boolean>>();

  constructor(private readonly executor: AwardExecutor) {}

  /** Runs the award here (joining this process's run of it if there is one); resolves when it stops. */
  run(id: string, force = false): Promise<boolean> {
    const current = this.running.get(id);
    if (current) return current;
    if (this.stopping.signal.aborted) return Promise.resolve(false);
    const run = this.executor.run(id, { signal: this.stopping.signal, force }).finally(() => this.running.delete(id));
    this.running.set(id, run);
    return run;
  }

  /** Starts the award here in the background; a failure is logged and left to the sweeper. */
  start(id: string, force = false): void {
    this.run(id, force).catch((error: Error) => this.logger.warn(`award ${id} left for the sweeper: ${error.message}`));
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort(new Error('the process is stopping'));
    await Promise.allSettled([...this.running.values()]);
  }
}

/** Hands an award to execution. Losing a hand-off loses nothing: the sweeper finds running awards nobody holds. */
export abstract class AwardQueue {
  abstract enqueue(id: string): Promise<void>;
}

/** With Redis: a Bull job per execute, taken by any worker. */
@Injectable()
export class BullAwardQueue extends AwardQueue {
  private readonly logger = new Logger('AwardQueue');

  constructor(@InjectQueue(AWARD_QUEUE) private readonly queue: Queue<{ id: string }>) {
    super();
    queue.on('error', (error: Error) => this.logger.warn(`queue unavailable: ${error.message}`));
  }

  async enqueue(id: string): Promise<void> {
    const adding = this.queue.add(
      AWARD_EXECUTE_JOB,
      { id },
      { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 100 },
    );
    adding.catch(() => undefined);
    await untilAborted(adding, AbortSignal.timeout(ENQUEUE_TIMEOUT_MS));
  }
}

/** Consumes award jobs in this process (registered by hand: a Redis that cannot be reached is logged, not fatal). */
@Injectable()
export class AwardJobConsumer implements OnModuleInit {
  private readonly logger = new Logger('AwardJobConsumer');

  constructor(
    @InjectQueue(AWARD_QUEUE) private readonly queue: Queue<{ id: string }>,
    private readonly runner: AwardRunner,
  ) {}

  onModuleInit(): void {
    this.queue
      .process(AWARD_EXECUTE_JOB, 1, (job: Job<{ id: string }>) => this.runner.run(job.data.id, true))
      .catch((error: Error) => this.logger.error(`award queue consumer stopped: ${error.message}; the sweeper keeps executing`));
  }
}

/** Without Redis (the demo, the CLI): the execution runs in this process. */
@Injectable()
export class InProcessAwardQueue extends AwardQueue {
  constructor(private readonly runner: AwardRunner) {
    super();
  }

  enqueue(id: string): Promise<void> {
    this.runner.start(id, true);
    return Promise.resolve();
  }
}
