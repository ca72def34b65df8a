import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { LedgerReadService, ProgrammeStats } from '../ledger/ledger-read.service';

export type { ProgrammeStats } from '../ledger/ledger-read.service';

const DAYS = 30;

/**
 * The programme's totals for the city to publish, read from the ledger's read side: points
 * issued (net of revoked accruals), redeemed with partners, donated per fund, still held by
 * residents, and the last 30 days (Moscow calendar). Cached: one entry, recomputed at most once a
 * minute (/v1/public/stats is public), concurrent requests for a stale entry share one computation.
 */
@Injectable()
export class PublicStatsService {
  private readonly cache = new LRUCache<'stats', ProgrammeStats>({
    max: 1,
    ttl: 60_000,
    fetchMethod: () => this.ledger.programmeStats(DAYS),
  });

  constructor(private readonly ledger: LedgerReadService) {}

  async stats(): Promise<ProgrammeStats> {
    return (await this.cache.fetch('stats'))!;
  }
}
