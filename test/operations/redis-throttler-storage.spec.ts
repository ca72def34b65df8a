import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { sharedRedis } from '../../src/infra/queue/redis-client';
import { RedisThrottlerStorage } from '../../src/partners/redis-throttler-storage';
import { REDIS_URL } from '../support/services';

/**
 * The partner keys' shared count: each of many concurrent hits is its own count in Redis, and it
 * is the library's count (a process of either version shares the budget).
 */
describe('the Redis rate-limit storage', () => {
  let redis: Redis;
  const name = `test-${randomBytes(4).toString('hex')}`;

  beforeAll(() => {
    redis = sharedRedis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await redis.keys(`{*:${name}}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('counts every one of many concurrent hits once, and blocks those past the limit', async () => {
    const storage = new RedisThrottlerStorage(redis);
    const results = await Promise.all(Array.from({ length: 40 }, () => storage.increment('till-a', 60_000, 25, 60_000, name)));
    expect(results.map((r) => r.totalHits).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(results.filter((r) => !r.isBlocked).map((r) => r.totalHits)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(results.find((r) => r.isBlocked)).toMatchObject({ timeToExpire: 60, timeToBlockExpire: 60 });
    // another key has a budget of its own
    expect(await storage.increment('till-b', 60_000, 25, 60_000, name)).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('shares one count with the library’s storage', async () => {
    const ours = new RedisThrottlerStorage(redis);
    const library = new ThrottlerStorageRedisService(redis);
    await ours.increment('till-c', 60_000, 3, 60_000, name);
    expect(await library.increment('till-c', 60_000, 3, 60_000, name)).toMatchObject({ totalHits: 2 });
    expect(await ours.increment('till-c', 60_000, 3, 60_000, name)).toMatchObject({ totalHits: 3, isBlocked: false });
    expect(await ours.increment('till-c', 60_000, 3, 60_000, name)).toMatchObject({ totalHits: 4, isBlocked: true });
  });

  it('fails a hit Redis refuses, so that the caller can count it itself', async () => {
    const another = new Redis(REDIS_URL, { lazyConnect: true, enableAutoPipelining: true });
    try {
      const storage = new RedisThrottlerStorage(another);
      await another.connect();
      // a hit key of the wrong type makes the script fail in Redis
      await another.lpush(`{till-e:${name}}:hits`, 'x');
      await expect(storage.increment('till-e', 60_000, 3, 60_000, name)).rejects.toThrow();
      // the next one is counted as usual
      await another.del(`{till-e:${name}}:hits`);
      expect(await storage.increment('till-e', 60_000, 3, 60_000, name)).toMatchObject({ totalHits: 1 });
    } finally {
      await another.quit();
    }
  });
});
