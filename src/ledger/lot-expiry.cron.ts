import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { LedgerService } from './ledger.service';

export const LOT_EXPIRY_INTERVAL_MS = 60_000;

/**
 * Every minute: records the expiry of the lots past their expiry (within 5 minutes of it, as the
 * contract asks; a lot stops counting in `available` at its expiry whether or not this has run),
 * then publishes the points.expiring notices that are due. Every replica may run it: the run's
 * chunks take a transaction-scoped advisory lock (one process works at a time), and the ledger's
 * door records each lot's expiry exactly once under the account's row lock.
 */
@Injectable()
export class LotExpiryCron {
  private readonly logger = new Logger('LotExpiry');
  private running = false;

  constructor(private readonly ledger: LedgerService) {}

  @Interval('lot-expiry', LOT_EXPIRY_INTERVAL_MS)
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.ledger.expireLots();
      await this.ledger.sendExpiryNotices();
    } catch (error) {
      this.logger.error(`Lot expiry run failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
