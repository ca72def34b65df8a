import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { Campaign, EarningRule } from './domain/earning';
import { EarningRepository } from './earning.repository';

/** How long rules and campaigns are remembered: a change made on another replica shows within this. */
const TTL_MS = 5_000;

/**
 * The earning rules and campaigns, read from the database at most every few seconds: intake and
 * processing price thousands of events a second and must not query them per event.
 */
@Injectable()
export class RuleBook {
  /** one entry, the whole book, forgotten TTL_MS after it was read */
  private readonly cache = new LRUCache<'book', { rules: EarningRule[]; campaigns: Campaign[] }>({ max: 1, ttl: TTL_MS });

  constructor(private readonly repository: EarningRepository) {}

  async forSource(sourceId: string): Promise<EarningRule[]> {
    return (await this.load()).rules.filter((r) => r.sourceId === sourceId);
  }

  async byIds(ids: string[]): Promise<Map<string, EarningRule>> {
    const wanted = new Set(ids);
    let { rules } = await this.load();
    const known = () => new Set(rules.map((r) => r.id));
    if ([...wanted].some((id) => !known().has(id))) rules = (await this.load(true)).rules;
    return new Map(rules.filter((r) => wanted.has(r.id)).map((r) => [r.id, r]));
  }

  async campaigns(): Promise<Campaign[]> {
    return (await this.load()).campaigns;
  }

  /** Forgets what it knows: the next read goes to the database. */
  invalidate(): void {
    this.cache.clear();
  }

  private async load(force = false) {
    const cached = force ? undefined : this.cache.get('book');
    if (cached) return cached;
    const [rules, campaigns] = await Promise.all([this.repository.allRules(), this.repository.allCampaigns()]);
    const book = { rules, campaigns };
    this.cache.set('book', book);
    return book;
  }
}
