import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { PrismaService } from '../infra/database/prisma.service';

export interface ProgrammeStats {
  asOf: Date;
  issued: Decimal;
  redeemed: Decimal;
  donated: { fundId: string; points: Decimal }[];
  outstanding: Decimal;
  residentsWithBalance: number;
  perDay: { date: string; issued: Decimal; redeemed: Decimal; donated: Decimal }[];
}

const CACHE_MS = 60_000;
const DAYS = 30;

/**
 * The programme's totals for the city to publish, computed from the ledger: points issued (net
 * of revoked accruals), redeemed with partners, donated per fund, still held by residents, and
 * the last 30 days (Moscow calendar). Recomputed at most once a minute.
 */
@Injectable()
export class PublicStatsService {
  private cached?: { at: number; stats: ProgrammeStats };

  constructor(private readonly prisma: PrismaService) {}

  async stats(): Promise<ProgrammeStats> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.stats;
    const totals = await this.prisma.$queryRaw<{ code: string; balance: string; holders: number }[]>`
      SELECT CASE WHEN a.code LIKE 'partner:%:redeemed' THEN 'partner' WHEN a.code LIKE 'resident:%' AND a.code NOT LIKE '%:debt' THEN 'resident' ELSE a.code END AS code,
             sum(CASE a.normal_side WHEN 'D' THEN b.debits_posted - b.credits_posted ELSE b.credits_posted - b.debits_posted END)::text AS balance,
             count(DISTINCT a.id) FILTER (WHERE a.code LIKE 'resident:%' AND a.code NOT LIKE '%:debt' AND b.credits_posted - b.debits_posted > 0)::int AS holders
      FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
      WHERE a.asset = 'POINTS' AND (a.code = 'programme:issued' OR a.code LIKE 'partner:%:redeemed' OR a.code LIKE 'charity:%' OR a.code LIKE 'resident:%')
      GROUP BY 1`;
    const perDay = await this.prisma.$queryRaw<{ day: string; issued: string; redeemed: string; donated: string }[]>`
      SELECT to_char(p.created_at AT TIME ZONE 'Europe/Moscow', 'YYYY-MM-DD') AS day,
        coalesce(sum(CASE WHEN a.code = 'programme:issued' THEN (CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) END), 0)::text AS issued,
        coalesce(sum(CASE WHEN a.code LIKE 'partner:%:redeemed' THEN (CASE p.side WHEN 'C' THEN p.amount ELSE -p.amount END) END), 0)::text AS redeemed,
        coalesce(sum(CASE WHEN a.code LIKE 'charity:%' THEN (CASE p.side WHEN 'C' THEN p.amount ELSE -p.amount END) END), 0)::text AS donated
      FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
      WHERE NOT p.pending AND p.created_at >= now() - make_interval(days => ${DAYS}) AND a.asset = 'POINTS'
        AND (a.code = 'programme:issued' OR a.code LIKE 'partner:%:redeemed' OR a.code LIKE 'charity:%')
      GROUP BY 1 ORDER BY 1`;
    const get = (code: string) => new Decimal(totals.find((t) => t.code === code)?.balance ?? 0);
    const stats: ProgrammeStats = {
      asOf: new Date(),
      issued: get('programme:issued'),
      redeemed: get('partner'),
      donated: totals
        .filter((t) => t.code.startsWith('charity:'))
        .map((t) => ({ fundId: t.code.slice('charity:'.length), points: new Decimal(t.balance) }))
        .sort((a, b) => a.fundId.localeCompare(b.fundId)),
      outstanding: get('resident'),
      residentsWithBalance: totals.find((t) => t.code === 'resident')?.holders ?? 0,
      perDay: perDay.map((d) => ({ date: d.day, issued: new Decimal(d.issued), redeemed: new Decimal(d.redeemed), donated: new Decimal(d.donated) })),
    };
    this.cached = { at: Date.now(), stats };
    return stats;
  }
}
