import type { ThrottlerStorage } from '@nestjs/throttler';
import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type Redis from 'ioredis';
import { FixedWindowThrottlerStorage } from '../partners/fixed-window-storage';
import { SharedThrottlerStorage } from '../partners/shared-throttler-storage';
import { RedisThrottlerStorage } from '../partners/redis-throttler-storage';

/**
 * express-rate-limit's counters kept where the partner keys' are (SharedThrottlerStorage): with
 * Redis, one budget for every process of the deployment (a sign-in limit per address must not
 * grow with the number of API processes), counted in this process only while Redis is known to
 * be down; without Redis, in this process. The middleware decides by the count; the storage is
 * never asked to block.
 */
export class ThrottlerStore implements Store {
  readonly localKeys: boolean;
  private windowMs = 60_000;

  constructor(
    private readonly storage: ThrottlerStorage,
    readonly prefix: string,
    shared: boolean,
  ) {
    this.localKeys = !shared;
  }

  /** A store for the deployment: shared through Redis when there is one. */
  static of(redis: Redis | null, prefix: string): ThrottlerStore {
    const local = new FixedWindowThrottlerStorage();
    if (!redis) return new ThrottlerStore(local, prefix, false);
    const storage = new SharedThrottlerStorage(
      new RedisThrottlerStorage(redis),
      local,
      () => !['reconnecting', 'close', 'end'].includes(redis.status),
    );
    return new ThrottlerStore(storage, prefix, true);
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const r = await this.storage.increment(key, this.windowMs, Number.MAX_SAFE_INTEGER, 0, this.prefix);
    return { totalHits: r.totalHits, resetTime: new Date(Date.now() + r.timeToExpire * 1000) };
  }

  // a fixed window's count is not taken back (express-rate-limit asks only with skipFailedRequests or skipSuccessfulRequests)
  decrement(): void {}

  resetKey(): void {}
}
