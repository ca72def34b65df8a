import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { EarnProcessor } from './earn-processor.service';

const SWEEP_BATCH = 500;

/**
 * Finds accepted events that nothing processed (a Redis flush, a lost job, a killed worker) and
 * processes them here. Safe on many replicas: processing locks events and skips locked ones.
 */
@Injectable()
export class EarnSweeper implements OnModuleInit {
  private readonly logger = new Logger('EarnSweeper');
  private running = false;

  constructor(
    private readonly processor: EarnProcessor,
    private readonly scheduler: SchedulerRegistry,
    private readonly leases: ScheduleLeases,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // one process sweeps at a time; another takes over when it dies (see ScheduleLeases)
    const every = this.config.earnSweepSeconds * 1000;
    const timer = setInterval(() => void this.leases.exclusive('earn-sweeper', 3 * every, () => this.sweep()), every);
    timer.unref();
    this.scheduler.addInterval('earn-sweeper', timer);
  }

  /** Processes events accepted before `olderThan` and still waiting; returns how many. */
  async sweep(olderThan = new Date(Date.now() - this.config.earnStaleSeconds * 1000)): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let processed = 0;
    try {
      for (;;) {
        const done = await this.processor.processStale(olderThan, SWEEP_BATCH);
        if (done === 0) break; // none left, or all held by live workers right now
        processed += done;
      }
      if (processed > 0) this.logger.warn(`${processed} accepted earn event(s) processed by the sweeper`);
    } catch (error) {
      this.logger.error(`earn sweep failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
    return processed;
  }
}
