import { LRUCache } from 'lru-cache';
import { untilAborted } from '../../common/abort';

/**
 * A value that Prometheus scrapes read from somewhere slow (the database, Redis). One reading
 * serves every scrape for `ttlMs` (an lru-cache of one entry that expires); a reading still
 * running is joined, never started a second time beside it; a scrape waits for it at most
 * `timeoutMs` (AbortSignal.timeout) and otherwise gets nothing, so that the gauge keeps its last
 * value rather than failing the scrape. A reading that fails is forgotten and tried again.
 */
export class ScrapeReading<T extends object> {
  private readonly cache: LRUCache<'reading', T>;

  constructor(
    read: () => Promise<T>,
    private readonly options: { ttlMs: number; timeoutMs: number },
  ) {
    this.cache = new LRUCache<'reading', T>({ max: 1, ttl: options.ttlMs, fetchMethod: () => read() });
  }

  async get(): Promise<T | undefined> {
    return untilAborted(this.cache.fetch('reading'), AbortSignal.timeout(this.options.timeoutMs)).catch(() => undefined);
  }
}
