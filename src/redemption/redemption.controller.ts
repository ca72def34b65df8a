import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentResident, ResidentOnly } from '../common/access';
import { ResidentPrincipal } from '../common/principal';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { UUID_PARAM } from '../common/params';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { idempotencyOf } from '../idempotency/idempotency.interceptor';
import { StoredAnswer } from '../idempotency/idempotency.service';
import { MetricsService, outcomeOf } from '../infra/metrics/metrics.service';
import { CreateDonationDto, CreateRedemptionDto, RedemptionDto, RedemptionPageDto } from './dto/redemption.dto';
import { RedemptionService } from './redemption.service';

@ApiTags('residents')
@ResidentOnly()
@Controller('v1/me')
export class RedemptionController {
  constructor(
    private readonly redemptions: RedemptionService,
    private readonly metrics: MetricsService,
  ) {}

  @Post('redemptions')
  @Idempotent({ inHandler: true })
  @ApiOperation({ summary: 'Spend points on a catalogue item: the code(s) come back at once' })
  @ApiCreatedResponse({ type: RedemptionDto })
  @ApiProblems('validation_failed', 'not_found', 'insufficient_points', 'out_of_stock', 'limit_exceeded')
  async redeem(@CurrentResident() me: ResidentPrincipal, @Body() body: CreateRedemptionDto, @Req() req: Request): Promise<StoredAnswer> {
    const count = (outcome: string) => this.metrics.redemptions.inc({ kind: 'redemption', outcome });
    try {
      const answer = await this.redemptions.redeemOnce(idempotencyOf(req), me.residentId, body.itemId, body.quantity ?? 1, (r) =>
        RedemptionDto.of(r, r.balanceAfter),
      );
      if (!answer.replayed) count(answer.status < 400 ? 'ok' : problemCode(answer.body));
      return answer;
    } catch (error) {
      count(outcomeOf(error));
      throw error;
    }
  }

  @Post('donations')
  @Idempotent()
  @ApiOperation({ summary: 'Donate points to a charity fund' })
  @ApiCreatedResponse({ type: RedemptionDto })
  @ApiProblems('validation_failed', 'not_found', 'insufficient_points', 'limit_exceeded')
  async donate(@CurrentResident() me: ResidentPrincipal, @Body() body: CreateDonationDto): Promise<RedemptionDto> {
    const r = await this.metrics.outcome(this.metrics.redemptions, { kind: 'donation' }, () =>
      this.redemptions.donate(me.residentId, body.itemId, new Decimal(body.amount)),
    );
    return RedemptionDto.of(r, r.balanceAfter);
  }

  @Get('redemptions')
  @ApiOperation({ summary: 'My redemptions and donations, newest first' })
  @ApiOkResponse({ type: RedemptionPageDto })
  @ApiProblems('validation_failed')
  async list(@CurrentResident() me: ResidentPrincipal, @Query() query: PageQueryDto): Promise<RedemptionPageDto> {
    const page = await this.redemptions.list(me.residentId, query.limit, query.cursor);
    return { items: page.items.map((r) => RedemptionDto.of(r)), nextCursor: page.nextCursor };
  }

  @Get('redemptions/:id')
  @ApiOperation({ summary: 'One of my redemptions' })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiProblems('validation_failed', 'not_found')
  async get(@CurrentResident() me: ResidentPrincipal, @Param('id', UUID_PARAM) id: string): Promise<RedemptionDto> {
    return RedemptionDto.of(await this.redemptions.get(me.residentId, id));
  }

  @Post('redemptions/:id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel an unused code within the item’s cancel window: the points come back' })
  @ApiOkResponse({ type: RedemptionDto })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state')
  async cancel(@CurrentResident() me: ResidentPrincipal, @Param('id', UUID_PARAM) id: string): Promise<RedemptionDto> {
    const r = await this.redemptions.cancel(me.residentId, id);
    return RedemptionDto.of(r, r.balanceAfter);
  }
}

/** The stable code of a stored problem answer. */
function problemCode(body: string): string {
  const code = (JSON.parse(body) as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'error';
}
