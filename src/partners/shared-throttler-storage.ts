import { Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { untilAborted } from '../common/abort';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How long a count in Redis may take before this request is counted here instead. */
const SHARED_TIMEOUT_MS = 250;
/** After Redis failed, how long the counting stays local before Redis is tried again. */
const LOCAL_FOR_MS = 5_000;

/**
 * Rate-limit counters shared by every process (with Redis: one budget per key in total, whatever
 * the number of processes), falling back to this process's own counters while Redis cannot
 * answer: a till keeps working when Redis is down, each process then allowing the limit by itself.
 */
export class SharedThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimits');
  private localUntil = 0;

  constructor(
    private readonly shared: ThrottlerStorage,
    private readonly local: ThrottlerStorage,
  ) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (Date.now() >= this.localUntil) {
      try {
        return await untilAborted(
          this.shared.increment(key, ttl, limit, blockDuration, throttlerName),
          AbortSignal.timeout(SHARED_TIMEOUT_MS),
        );
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
