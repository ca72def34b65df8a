import { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate-limit counters in fixed windows: one number per key and window, O(1) per request. The
 * library's default storage keeps every hit's timestamp and filters them on every request,
 * which at thousands of validations a second cost more than the validation itself. A fixed
 * window lets a key use up to twice its limit across a window boundary: enough to stop guessing.
 */
export class FixedWindowThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, { start: number; hits: number; blockedUntil: number }>();
  private increments = 0;

  // the library's interface is asynchronous; this storage answers at once
  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    if (++this.increments % 10_000 === 0) this.evict(now, ttl);
    const id = `${throttlerName}:${key}`;
    let window = this.windows.get(id);
    if (!window || now >= window.start + ttl) {
      window = { start: now, hits: 0, blockedUntil: window?.blockedUntil ?? 0 };
      this.windows.set(id, window);
    }
    window.hits++;
    if (window.hits > limit && window.blockedUntil <= now) window.blockedUntil = now + blockDuration;
    return Promise.resolve({
      totalHits: window.hits,
      timeToExpire: Math.ceil((window.start + ttl - now) / 1000),
      isBlocked: window.blockedUntil > now,
      timeToBlockExpire: Math.max(0, Math.ceil((window.blockedUntil - now) / 1000)),
    });
  }

  private evict(now: number, ttl: number): void {
    for (const [id, w] of this.windows) if (now >= w.start + ttl && w.blockedUntil <= now) this.windows.delete(id);
  }
}
