import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { LedgerService } from './ledger.service';

export const HOLD_SWEEP_INTERVAL_MS = 30_000;

/**
 * Releases pending transactions past their expiry. Every replica may run it: a hold can be
 * settled only once (unique index), so two sweepers never both expire one hold.
 */
@Injectable()
export class HoldExpiryCron {
  private readonly logger = new Logger('HoldExpiry');
  private running = false;

  constructor(private readonly ledger: LedgerService) {}

  @Interval('hold-expiry', HOLD_SWEEP_INTERVAL_MS)
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.ledger.expireHolds();
    } catch (error) {
      this.logger.error(`Hold expiry sweep failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
