import { ThrottlerStorage } from '@nestjs/throttler';
import { FixedWindowThrottlerStorage } from './fixed-window-storage';
import { SharedThrottlerStorage } from './shared-throttler-storage';

type Increment = ThrottlerStorage['increment'];

/** A shared store that answers with its own count, fails, or is never called. */
function sharedStore(behaviour: 'count' | 'fail'): ThrottlerStorage & { calls: number } {
  let hits = 0;
  const store = {
    calls: 0,
    increment: ((_key, _ttl, limit) => {
      store.calls++;
      if (behaviour === 'fail') return Promise.reject(new Error('Connection is closed.'));
      hits++;
      return Promise.resolve({ totalHits: hits, timeToExpire: 60, isBlocked: hits > limit, timeToBlockExpire: hits > limit ? 60 : 0 });
    }) as Increment,
  };
  return store;
}

describe('shared rate-limit counters', () => {
  const hit = (s: ThrottlerStorage) => s.increment('till-1', 60_000, 3, 60_000, 'partner-codes');

  it('counts in the shared store while it answers', async () => {
    const shared = sharedStore('count');
    const storage = new SharedThrottlerStorage(shared, new FixedWindowThrottlerStorage());
    const results = [await hit(storage), await hit(storage), await hit(storage), await hit(storage)];
    expect(shared.calls).toBe(4);
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
  });

  it('counts in this process when the shared store fails, and keeps doing so for a while', async () => {
    const shared = sharedStore('fail');
    const storage = new SharedThrottlerStorage(shared, new FixedWindowThrottlerStorage());
    const results = [await hit(storage), await hit(storage), await hit(storage), await hit(storage)];
    // one failed try, then the local counters alone: the limit still holds in this process
    expect(shared.calls).toBe(1);
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3, 4]);
    expect(results[3].isBlocked).toBe(true);
  });

  it('does not even try a store whose connection is known to be down', async () => {
    const shared = sharedStore('count');
    let up = false;
    const storage = new SharedThrottlerStorage(shared, new FixedWindowThrottlerStorage(), () => up);
    await hit(storage);
    expect(shared.calls).toBe(0);
    up = true;
    await hit(storage);
    expect(shared.calls).toBe(1);
  });
});
