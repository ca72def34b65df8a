import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorageRedisService['increment']>>;

const COMMAND = 'throttlerStorageHit';

type Counting = Redis & {
  [COMMAND](hitKey: string, blockKey: string, name: string, ttl: number, limit: number, blockDuration: number): Promise<unknown>;
};

/**
 * The library's Redis storage (@nest-lab/throttler-storage-redis: its script, keys and answer,
 * so that processes of either kind share one budget), with its script sent by digest. The
 * library sends the script's whole text with every hit (`EVAL`, about a kilobyte a validation:
 * 9 % of a partner validation's CPU in the profile); registered with ioredis's `defineCommand`,
 * it goes as `EVALSHA`, ioredis sending the text again only when Redis has lost it (a restart).
 */
export class RedisThrottlerStorage extends ThrottlerStorageRedisService {
  private readonly counting: Counting;

  constructor(redis: Redis) {
    super(redis);
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: this.scriptSrc });
    this.counting = redis as Counting;
  }

  override async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string): Promise<ThrottlerStorageRecord> {
    // the library's keys (its increment names them so)
    const result = await this.counting[COMMAND](`{${key}:${name}}:hits`, `{${key}:${name}}:blocked`, name, ttl, limit, blockDuration);
    if (!Array.isArray(result) || result.length !== 4 || !result.every((n) => typeof n === 'number')) {
      throw new TypeError(`a rate-limit count answered ${JSON.stringify(result)}`);
    }
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = result;
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }
}
