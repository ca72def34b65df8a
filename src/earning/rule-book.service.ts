import { Injectable } from '@nestjs/common';
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
  private loaded?: { at: number; rules: EarningRule[]; campaigns: Campaign[] };

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
    this.loaded = undefined;
  }

  private async load(force = false) {
    if (force || !this.loaded || Date.now() - this.loaded.at > TTL_MS) {
      const [rules, campaigns] = await Promise.all([this.repository.allRules(), this.repository.allCampaigns()]);
      this.loaded = { at: Date.now(), rules, campaigns };
    }
    return this.loaded;
  }
}
