import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '../config/config';
import { AwardRunner } from './award-queue';
import { AwardsRepository } from './awards.repository';

/** An upload that has stored nothing for this long is taken as abandoned (its process died). */
const ABANDONED_UPLOAD_SECONDS = 15 * 60;

/**
 * Resumes running awards that no process holds (a killed worker, a lost job, a restart): at
 * boot and every AWARD_SWEEP_SECONDS. Safe on many processes at once: an award is taken with
 * its lease, and chunks skip the rows another process has locked.
 */
@Injectable()
export class AwardSweeper implements OnApplicationBootstrap {
  private readonly logger = new Logger('AwardSweeper');
  private sweeping = false;

  constructor(
    private readonly repository: AwardsRepository,
    private readonly runner: AwardRunner,
    private readonly scheduler: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.sweep(), this.config.awards.sweepSeconds * 1000);
    timer.unref();
    this.scheduler.addInterval('award-sweeper', timer);
    // resume on boot: what a stopped process left running (a short delay lets the CLI stop its schedules first)
    const boot = setTimeout(() => void this.sweep(), 500);
    boot.unref();
    this.scheduler.addTimeout('award-sweeper-boot', boot);
  }

  /** Starts the running awards nobody holds; returns how many it started. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const abandoned = await this.repository.failAbandonedUploads(ABANDONED_UPLOAD_SECONDS);
      if (abandoned > 0) this.logger.warn(`${abandoned} award upload(s) abandoned mid-way marked failed`);
      const ids = (await this.repository.unheld(10)).filter((id) => !this.runner.isRunning(id));
      for (const id of ids) {
        this.logger.warn(`award ${id} is running but nobody holds it: resuming it here`);
        this.runner.start(id);
      }
      return ids.length;
    } catch (error) {
      this.logger.error(`award sweep failed: ${(error as Error).message}`);
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
