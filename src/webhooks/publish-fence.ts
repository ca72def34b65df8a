import { FenceReading } from './webhooks.repository';

/**
 * Up to which outbox position every delivery is final in this process's view (per-resident order
 * across concurrent transactions, migration 20261204210000): an event's position is drawn when
 * its transaction writes the outbox, but transactions may commit in another order, so a
 * delivery seen first in its resident's queue is sent only if no transaction still running may
 * yet commit an earlier one of that resident.
 *
 * Each round's statement reads the fence (the last position drawn, then the writers running);
 * the reading is tracked until none of its writers is among those a later statement read: every
 * position up to it is then final, for every statement that starts after that later one ended.
 * A reading with no writer is final at once. One instance per process, shared by the webhooks it
 * serves (the positions are the outbox's, not a webhook's).
 */
export class PublishFence {
  /** every position up to this one is final (null: nothing known yet, nothing ordered is sent) */
  private finalUpTo: bigint | null = null;
  private tracked: FenceReading | null = null;

  /** What the next statement may take as final; -1 while nothing is known. */
  get safe(): bigint {
    return this.finalUpTo ?? -1n;
  }

  /** Takes a round statement's reading; true when the safe position moved. */
  observe(reading: FenceReading): boolean {
    const before = this.finalUpTo;
    if (this.tracked && !this.tracked.writers.some((w) => reading.writers.includes(w))) {
      this.advance(this.tracked.lastSeq);
      this.tracked = null;
    }
    if (reading.writers.length === 0) {
      this.advance(reading.lastSeq);
      this.tracked = null;
    } else if (!this.tracked) {
      this.tracked = reading;
    }
    return this.finalUpTo !== before;
  }

  private advance(to: bigint): void {
    if (this.finalUpTo === null || to > this.finalUpTo) this.finalUpTo = to;
  }
}
