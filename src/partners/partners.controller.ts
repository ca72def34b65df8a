import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiQuery, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { ClientPrincipal } from '../common/principal';
import { invalidInput } from '../common/errors';
import { formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { MetricsService } from '../infra/metrics/metrics.service';
import { PartnerThrottlerGuard } from './partner-throttler.guard';
import { PartnerCodeView, PartnersService } from './partners.service';

export class PartnerCodeDto {
  @ApiProperty() code: string;
  @ApiProperty({ enum: ['issued', 'redeemed', 'expired', 'cancelled'] }) status: string;
  @ApiProperty() itemId: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) validUntil: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) redeemedAt: string | null;

  static of(c: PartnerCodeView): PartnerCodeDto {
    return {
      code: c.code,
      status: c.status,
      itemId: c.itemId,
      validUntil: c.validUntil?.toISOString() ?? null,
      redeemedAt: c.redeemedAt?.toISOString() ?? null,
    };
  }
}

export class SettlementItemDto {
  @ApiProperty() itemId: string;
  @ApiProperty() title: string;
  @ApiPropertyOptional({ description: 'Codes redeemed at the till in the period' }) codes?: number;
  @ApiPropertyOptional({ description: 'Donations received in the period' }) donations?: number;
  @ApiProperty({ example: '1500', description: 'Points they stand for (1 point = 1 rouble for donations)' }) points: string;
}

export class SettlementDto {
  @ApiProperty() partnerId: string;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ type: [SettlementItemDto] }) items: SettlementItemDto[];
  @ApiProperty({ type: [SettlementItemDto] }) donations: SettlementItemDto[];
  @ApiProperty({ example: { codes: 15, donations: 0, points: '1500' } }) total: { codes: number; donations: number; points: string };
}

const CODE = /^[\x21-\x7e]{1,64}$/;

@ApiTags('partners')
@Roles('partner')
@Controller('v1/partner')
export class PartnersController {
  constructor(
    private readonly partners: PartnersService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('codes/:code')
  @UseGuards(PartnerThrottlerGuard)
  @ApiOperation({ summary: 'Validate a code at the till (my items only; anything else is 404)' })
  @ApiOkResponse({ type: PartnerCodeDto })
  @ApiProblems('not_found', 'rate_limited')
  async lookup(@CurrentClient() partner: ClientPrincipal, @Param('code') code: string): Promise<PartnerCodeDto> {
    return PartnerCodeDto.of(
      await this.metrics.outcome(this.metrics.partnerCodes, { action: 'validate' }, () =>
        this.partners.lookup(partner.partnerId!, checked(code)),
      ),
    );
  }

  @Post('codes/:code/redeem')
  @HttpCode(200)
  @UseGuards(PartnerThrottlerGuard)
  @ApiOperation({ summary: 'Redeem a code: of any number of concurrent calls exactly one succeeds' })
  @ApiOkResponse({ type: PartnerCodeDto })
  @ApiProblems('not_found', 'code_already_redeemed', 'invalid_state', 'code_expired', 'rate_limited')
  async redeem(@CurrentClient() partner: ClientPrincipal, @Param('code') code: string): Promise<PartnerCodeDto> {
    return PartnerCodeDto.of(
      await this.metrics.outcome(this.metrics.partnerCodes, { action: 'redeem' }, () =>
        this.partners.redeem(partner.partnerId!, checked(code)),
      ),
    );
  }

  @Get('settlements')
  @ApiOperation({ summary: 'Redeemed codes and donations received, per item and in total, for a period' })
  @ApiQuery({ name: 'from', required: true, example: '2026-11-01T00:00:00Z' })
  @ApiQuery({ name: 'to', required: true, example: '2026-12-01T00:00:00Z' })
  @ApiOkResponse({ type: SettlementDto })
  @ApiProblems('validation_failed')
  async settlements(
    @CurrentClient() partner: ClientPrincipal,
    @Query('from') from?: string,
    @Query('to') to?: string,
  ): Promise<SettlementDto> {
    const start = optionalMoment(from, 'from');
    const end = optionalMoment(to, 'to');
    if (!start || !end) throw invalidInput('from and to are required');
    const s = await this.partners.settlement(partner.partnerId!, start, end);
    return {
      partnerId: s.partnerId,
      from: s.from.toISOString(),
      to: s.to.toISOString(),
      items: s.items.map((i) => ({ itemId: i.itemId, title: i.title, codes: i.codes, points: formatAmount(i.points, 0) })),
      donations: s.donations.map((d) => ({ itemId: d.itemId, title: d.title, donations: d.donations, points: formatAmount(d.points, 0) })),
      total: { codes: s.total.codes, donations: s.total.donations, points: formatAmount(s.total.points, 0) },
    };
  }
}

function checked(code: string): string {
  if (!CODE.test(code)) throw invalidInput('a code is 1 to 64 printable characters');
  return code;
}
