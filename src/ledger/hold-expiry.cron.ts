import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { LedgerService } from './ledger.service';

export const HOLD_SWEEP_INTERVAL_MS = 30_000;

/**
 * Records the release of pending transactions past their expiry. A hold stops holding at its
 * expiry whether or not this has run (reads subtract it, posting it is refused, and the ledger's
 * door releases it before a write to its account): the sweeper only writes the `hold.expired`
 * row. Every replica may run it: a hold can be settled only once (unique index), so two sweepers
 * never both expire one hold.
 */
@Injectable()
export class HoldExpiryCron {
  private readonly logger = new Logger('HoldExpiry');
  private running = false;

  constructor(
    private readonly ledger: LedgerService,
    private readonly leases: ScheduleLeases,
  ) {}

  @Interval('hold-expiry', HOLD_SWEEP_INTERVAL_MS)
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // one process at a time records the releases (see ScheduleLeases)
      await this.leases.exclusive('hold-expiry', 3 * HOLD_SWEEP_INTERVAL_MS, () => this.ledger.expireHolds());
    } catch (error) {
      this.logger.error(`Hold expiry sweep failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
