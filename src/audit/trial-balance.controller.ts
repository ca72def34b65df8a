import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/access';
import { Decimal, formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { decodeCursor, encodeCursor } from '../common/pagination';
import { ACCOUNT_KINDS, AccountKind, TrialBalanceDto, TrialBalanceQueryDto } from './dto/trial-balance.dto';

@ApiTags('audit')
@Roles('auditor', 'admin')
@Controller('v1/audit')
export class TrialBalanceController {
  constructor(private readonly reads: LedgerReadService) {}

  @Get('trial-balance')
  @ApiOperation({ summary: 'Every account’s debits, credits and balance, now or as of a moment, with totals per asset' })
  @ApiOkResponse({ type: TrialBalanceDto })
  @ApiProblems('validation_failed')
  async trialBalance(@Query() query: TrialBalanceQueryDto): Promise<TrialBalanceDto> {
    const asOf = optionalMoment(query.asOf, 'asOf');
    // the read side's report (the finance console's trial balance is the same one)
    const report = await this.reads.trialBalanceReport(asOf);
    const rows = report.accounts;
    const fmt = (v: Decimal, asset: string) => formatAmount(v, report.scales.get(asset) ?? 0);
    const subtotals = new Map<string, { kind: AccountKind; asset: string; accounts: number; debits: Decimal; credits: Decimal }>();
    for (const r of rows) {
      const kind = kindOf(r.account);
      const sub = subtotals.get(`${kind}\u0000${r.asset}`) ?? {
        kind,
        asset: r.asset,
        accounts: 0,
        debits: new Decimal(0),
        credits: new Decimal(0),
      };
      subtotals.set(`${kind}\u0000${r.asset}`, {
        ...sub,
        accounts: sub.accounts + 1,
        debits: sub.debits.plus(r.debits),
        credits: sub.credits.plus(r.credits),
      });
    }
    // pages of accounts in the order the ledger gives them; totals and subtotals are the whole books'
    const after = decodeCursor<{ n: number }>(query.cursor, ['n']);
    const start = after?.n ?? 0;
    const end = query.limit ? start + query.limit : rows.length;
    const accounts = rows.slice(start, end).map((r) => ({
      account: r.account,
      asset: r.asset,
      debits: fmt(r.debits, r.asset),
      credits: fmt(r.credits, r.asset),
      balance: fmt(r.balance, r.asset),
    }));
    return {
      asOf: report.asOf.toISOString(),
      accounts,
      totals: report.totals.map((t) => ({ asset: t.asset, debits: fmt(t.debits, t.asset), credits: fmt(t.credits, t.asset) })),
      subtotals: [...subtotals.values()]
        .sort((a, b) => ACCOUNT_KINDS.indexOf(a.kind) - ACCOUNT_KINDS.indexOf(b.kind) || a.asset.localeCompare(b.asset))
        .map((s) => ({
          kind: s.kind,
          asset: s.asset,
          accounts: s.accounts,
          debits: fmt(s.debits, s.asset),
          credits: fmt(s.credits, s.asset),
          net: fmt(s.credits.minus(s.debits), s.asset),
        })),
      nextCursor: end < rows.length ? encodeCursor({ n: end }) : null,
    };
  }
}

function kindOf(account: string): AccountKind {
  const prefix = account.split(':')[0];
  if (prefix === 'resident') return 'residents';
  if (prefix === 'partner') return 'partners';
  if (prefix === 'charity') return 'funds';
  if (prefix === 'programme') return 'programme';
  return 'other';
}
