import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsISO8601, IsOptional } from 'class-validator';
import { Roles } from '../auth/access.decorators';
import { invalidInput } from '../common/errors';
import { formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { LedgerReadService } from '../ledger/ledger-read.service';

export class LiabilityQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'The moment to report on (default: now)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  asOf?: string;
}

export class ExpiryMonthDto {
  @ApiProperty({ example: '2027-03', description: 'Month of expiry (Europe/Moscow)' }) month: string;
  @ApiProperty({ example: '1200' }) amount: string;
}

export class LiabilityDto {
  @ApiProperty({ format: 'date-time' }) asOf: string;
  @ApiProperty({ example: '5400', description: "Residents' points (posted), still owed by the programme" }) outstanding: string;
  @ApiProperty({ example: '300', description: 'Points on their way to residents (pending accruals)' }) pending: string;
  @ApiProperty({ type: [ExpiryMonthDto], description: 'The outstanding points by month of expiry, soonest first' })
  byExpiryMonth: ExpiryMonthDto[];
  @ApiProperty({ example: '2000', description: 'The outstanding points that never expire' }) withoutExpiry: string;
  @ApiProperty({ example: '10000', description: 'Net points issued by the programme (accruals, adjustments, awards, less revocations)' })
  issued: string;
  @ApiProperty({ example: '3500', description: 'Points redeemed with partners, net of cancellations' }) redeemed: string;
  @ApiProperty({ example: '600', description: 'Points donated to charity funds' }) donated: string;
  @ApiProperty({ example: '500', description: 'Points that expired unused (breakage)' }) expired: string;
  @ApiProperty({ example: '0.3500', description: 'redeemed ÷ issued' }) redemptionRate: string;
  @ApiProperty({ example: '0.0500', description: 'expired ÷ issued' }) breakageRate: string;
}

@ApiTags('audit')
@Roles('auditor', 'admin')
@Controller('v1/audit/liability')
export class LiabilityController {
  constructor(private readonly reads: LedgerReadService) {}

  @Get()
  @ApiOperation({ summary: "The programme's points liability at any moment, from the journal: outstanding by month of expiry, breakage" })
  @ApiOkResponse({ type: LiabilityDto })
  @ApiProblems('validation_failed')
  async liability(@Query() query: LiabilityQueryDto): Promise<LiabilityDto> {
    const asOf = optionalMoment(query.asOf, 'asOf') ?? new Date();
    if (asOf.getTime() > Date.now() + 60_000) throw invalidInput('asOf must not be in the future');
    const l = await this.reads.liability(asOf);
    const points = (v: { toFixed(scale: number): string }) => v.toFixed(0);
    return {
      asOf: asOf.toISOString(),
      outstanding: formatAmount(l.outstanding, 0),
      pending: formatAmount(l.pending, 0),
      byExpiryMonth: l.byExpiryMonth.map((m) => ({ month: m.month, amount: points(m.amount) })),
      withoutExpiry: formatAmount(l.withoutExpiry, 0),
      issued: formatAmount(l.issued, 0),
      redeemed: formatAmount(l.redeemed, 0),
      donated: formatAmount(l.donated, 0),
      expired: formatAmount(l.expired, 0),
      redemptionRate: l.redemptionRate.toFixed(4),
      breakageRate: l.breakageRate.toFixed(4),
    };
  }
}
