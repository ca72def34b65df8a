import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/access.decorators';
import { Decimal, formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService } from '../ledger/ledger.service';
import { TrialBalanceDto, TrialBalanceQueryDto } from './dto/trial-balance.dto';

@ApiTags('audit')
@Roles('auditor', 'admin')
@Controller('v1/audit')
export class TrialBalanceController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly reads: LedgerReadService,
  ) {}

  @Get('trial-balance')
  @ApiOperation({ summary: 'Every account’s debits, credits and balance, now or as of a moment, with totals per asset' })
  @ApiOkResponse({ type: TrialBalanceDto })
  @ApiProblems('validation_failed')
  async trialBalance(@Query() query: TrialBalanceQueryDto): Promise<TrialBalanceDto> {
    const asOf = optionalMoment(query.asOf, 'asOf');
    const [rows, scales] = await Promise.all([this.reads.trialBalance(asOf), this.ledger.assetScales()]);
    const totals = new Map<string, { debits: Decimal; credits: Decimal }>();
    const accounts = rows.map((r) => {
      const scale = scales.get(r.asset) ?? 0;
      const total = totals.get(r.asset) ?? { debits: new Decimal(0), credits: new Decimal(0) };
      totals.set(r.asset, { debits: total.debits.plus(r.debits), credits: total.credits.plus(r.credits) });
      const balance = r.normalSide === 'C' ? r.credits.minus(r.debits) : r.debits.minus(r.credits);
      return {
        account: r.account,
        asset: r.asset,
        debits: formatAmount(r.debits, scale),
        credits: formatAmount(r.credits, scale),
        balance: formatAmount(balance, scale),
      };
    });
    return {
      asOf: (asOf ?? new Date()).toISOString(),
      accounts,
      totals: [...totals.entries()].map(([asset, t]) => ({
        asset,
        debits: formatAmount(t.debits, scales.get(asset) ?? 0),
        credits: formatAmount(t.credits, scales.get(asset) ?? 0),
      })),
    };
  }
}
