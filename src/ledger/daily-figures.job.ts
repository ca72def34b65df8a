import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { LedgerReadService } from './ledger-read.service';

export const DAILY_FIGURES_INTERVAL_MS = 10 * 60_000;

/**
 * Keeps the finance console's daily figures: every ten minutes, the closed days not kept yet
 * (normally the one that has just ended) are summed from their own transactions, by the process
 * holding the job's lease (see ScheduleLeases). Two could run it at once without harm: a day is
 * claimed by its row in ledger_daily_closed, so it is kept exactly once.
 */
@Injectable()
export class DailyFiguresJob {
  private readonly logger = new Logger('DailyFigures');
  private running = false;

  constructor(
    private readonly reads: LedgerReadService,
    private readonly leases: ScheduleLeases,
  ) {}

  @Interval('ledger-daily-figures', DAILY_FIGURES_INTERVAL_MS)
  async keep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let filled = 0;
      await this.leases.exclusive('ledger-daily-figures', 3 * DAILY_FIGURES_INTERVAL_MS, async () => {
        filled = await this.reads.keepDailyFigures();
      });
      if (filled > 0) this.logger.log(`daily figures kept for ${filled} day(s)`);
    } catch (error) {
      this.logger.error(`keeping the daily figures failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
