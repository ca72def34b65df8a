import { Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** After Redis failed, how long the counting stays local before Redis is tried again. */
const LOCAL_FOR_MS = 5_000;

/**
 * Rate-limit counters shared by every process (with Redis: one budget per key in total, whatever
 * the number of processes), falling back to this process's own counters while Redis cannot
 * answer (down, or hanging past the shared client's command timeout): a till keeps working when
 * Redis is down, each process then allowing the limit by itself.
 * Whether Redis is up is read from its connection's state (`available`), not guessed from a
 * timer: under load a slow event loop would otherwise split one key's count between Redis and
 * the process, letting through more than the limit.
 */
export class SharedThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimits');
  private localUntil = 0;

  constructor(
    private readonly shared: ThrottlerStorage,
    private readonly local: ThrottlerStorage,
    private readonly available: () => boolean = () => true,
  ) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (Date.now() >= this.localUntil && this.available()) {
      try {
        // a Redis that hangs fails the count after the client's command timeout (sharedRedisOptions)
        return await this.shared.increment(key, ttl, limit, blockDuration, throttlerName);
      } catch (error) {
        this.localUntil = Date.now() + LOCAL_FOR_MS;
        this.logger.warn(
          `shared counters unavailable (${(error as Error).message}): counting in this process for ${LOCAL_FOR_MS / 1000} s`,
        );
      }
    }
    return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
  }
}
