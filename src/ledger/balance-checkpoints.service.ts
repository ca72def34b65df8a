import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { BalanceCheckpointsRepository } from './balance-checkpoints.repository';

export const CHECKPOINT_INTERVAL_MS = 60 * 60_000;
/**
 * A month's checkpoint is made this long after the month ends: longer than any database
 * transaction may last (30 s), so that every posting created before it is committed.
 */
export const CHECKPOINT_MARGIN_MS = 5 * 60_000;

/** The first instant of the UTC month after the one `at` is in (the journal's partitions are UTC months). */
export function nextMonthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

/** The first instant of the UTC month `at` is in. */
export function monthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/**
 * Balance checkpoints: at the start of every UTC month after a month with transactions, each account's sums of the postings before
 * it (see BalanceCheckpointsRepository), made hourly by the process holding the job's lease, and by
 * the reconciliation before it checks. A balance or trial balance as of a moment starts from the
 * nearest one before it; the full reconciliation verifies every one against the journal.
 */
@Injectable()
export class BalanceCheckpointsService {
  private readonly logger = new Logger('BalanceCheckpoints');
  private running = false;

  constructor(
    private readonly repository: BalanceCheckpointsRepository,
    private readonly leases: ScheduleLeases,
  ) {}

  @Interval('ledger-balance-checkpoints', CHECKPOINT_INTERVAL_MS)
  async periodic(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.leases.exclusive('ledger-balance-checkpoints', 3 * CHECKPOINT_INTERVAL_MS, () => this.keepMonths());
    } catch (error) {
      this.logger.error(`balance checkpoints failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /**
   * Makes the checkpoints of the months that ended (CHECKPOINT_MARGIN_MS ago) and have none yet,
   * oldest first, each from the one before. Two processes at once make each month once (its row
   * in ledger_checkpoint_months is claimed). Returns how many it made.
   */
  async keepMonths(now = new Date()): Promise<number> {
    let previous = await this.repository.lastMonth();
    let made = 0;
    for (;;) {
      // a month with no transaction gets no checkpoint: the next one is made from the one before it
      const activity = await this.repository.firstActivity(previous);
      if (!activity) return made;
      const month = nextMonthStart(activity);
      if (month.getTime() > now.getTime() - CHECKPOINT_MARGIN_MS) return made;
      const accounts = await this.repository.writeMonth(previous, month);
      if (accounts !== null) {
        made++;
        this.logger.log(`balance checkpoint ${month.toISOString()}: ${accounts} account(s)`);
      }
      previous = month;
    }
  }

  /**
   * After a passed reconciliation that verified the journal in [from, to): rows at `to` for the
   * accounts touched in it, so that the next incremental run starts from them (see writeVerified).
   */
  recordVerified(from: Date, to: Date): Promise<number> {
    return to > from ? this.repository.writeVerified(from, to) : Promise.resolve(0);
  }

  /**
   * Drops the rows passed runs added before the latest month's checkpoint at or before `verifiedTo`
   * (the high water of a passed run): that checkpoint has every account, so no incremental run
   * starts from them any more; they would only grow. Month checkpoints stay.
   */
  pruneVerified(verifiedTo: Date): Promise<number> {
    return this.repository.pruneVerified(verifiedTo);
  }
}
