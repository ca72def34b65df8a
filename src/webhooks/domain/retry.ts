/** When a failed attempt is tried again: exponential backoff with jitter, for a bounded time. */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** a delivery failing for longer than this since its event is given up */
  giveUpAfterMs: number;
}

/**
 * The wait after the `attempts`-th failed attempt: base·2^(attempts−1), capped, of which a random
 * half is taken off ("equal jitter": between half and all of it), so that receivers coming back
 * are not hit by every sender at the same instant. `random` is in [0, 1).
 */
export function retryDelayMs(policy: RetryPolicy, attempts: number, random: number = Math.random()): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  return Math.round(exponential / 2 + (exponential / 2) * random);
}

/** The next attempt's time, or null when the delivery is to be given up. */
export function nextAttemptAt(policy: RetryPolicy, attempts: number, createdAt: Date, now: Date, random?: number): Date | null {
  if (now.getTime() - createdAt.getTime() >= policy.giveUpAfterMs) return null;
  return new Date(now.getTime() + retryDelayMs(policy, attempts, random));
}
