import { Injectable } from '@nestjs/common';

/**
 * Foreground work this process is doing (earn batches being posted), so that background work
 * that may wait (the webhook outbox's drain, see DeliveryService) gives way while it lasts: on a
 * machine whose cores the database and the service share, a webhook delivery costs about what
 * posting its event does, and a drain running flat out during a burst of ingest takes that share
 * from the ingest. The drain then paces itself and catches up once the burst is over.
 */
@Injectable()
export class ForegroundWork {
  private running = 0;
  private lastEnded = -Infinity;

  /** Runs `work` as foreground work. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.lastEnded = performance.now();
    }
  }

  /** Whether foreground work is running, or ended less than `withinMs` ago (the gap between two batches). */
  busy(withinMs: number): boolean {
    return this.running > 0 || performance.now() - this.lastEnded < withinMs;
  }

  /**
   * Background work that just took `tookMs` gives way: waits so that it takes at most `share` of
   * the time (at most `maxMs`), less if the foreground work ends meanwhile (busy within `withinMs`
   * no more: the background work then catches up at once). Looks every `sliceMs`.
   */
  async giveWay(tookMs: number, share: number, withinMs: number, maxMs: number, sliceMs = 50): Promise<void> {
    const ms = Math.min(maxMs, (tookMs * (1 - share)) / share);
    const until = performance.now() + ms;
    for (let left = ms; left > 0 && this.busy(withinMs); left = until - performance.now()) {
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(sliceMs, left)));
    }
  }
}
