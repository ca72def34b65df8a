import { Injectable } from '@nestjs/common';

/**
 * Told when an attempt in this process ends, so that the dispatcher leases the next ones at once
 * (a webhook has at most WEBHOOK_PER_ENDPOINT deliveries leased: waiting for the next tick would
 * cap it at that many per tick).
 */
@Injectable()
export class AttemptSignal {
  private readonly listeners: (() => void)[] = [];

  onSettled(listener: () => void): void {
    this.listeners.push(listener);
  }

  settled(): void {
    for (const listener of this.listeners) listener();
  }
}
