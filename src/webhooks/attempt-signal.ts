import { Injectable } from '@nestjs/common';

/**
 * Told when a hand-off served in this process ends, so that the dispatcher hands the webhook out
 * again at once when it still has something due (its serving used its time), rather than at the
 * next tick.
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
