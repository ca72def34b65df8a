import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { Roles } from '../common/access';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { optionalMoment } from '../common/params';
import { SLUG_ID } from '../common/identifiers';
import {
  CampaignDto,
  CampaignPageDto,
  CreateCampaignDto,
  CreateEarningRuleDto,
  EarningRuleDto,
  EarningRulePageDto,
  UpdateEarningRuleDto,
} from './dto/earning.dto';
import { decimalOrNull, EarningAdminService } from './earning-admin.service';

export class RuleListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'active-citizen' })
  @IsOptional()
  @Matches(SLUG_ID, { message: 'sourceId is not a source id' })
  sourceId?: string;
}

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin')
export class EarningRulesController {
  constructor(private readonly admin: EarningAdminService) {}

  @Post('earning-rules')
  @ApiOperation({ summary: 'Create an earning rule: points per event type of a source, with caps and a validity window' })
  @ApiCreatedResponse({ type: EarningRuleDto })
  @ApiProblems('validation_failed', 'not_found', 'already_exists')
  async create(@Body() body: CreateEarningRuleDto): Promise<EarningRuleDto> {
    const rule = await this.admin.createRule({
      id: body.id,
      sourceId: body.sourceId,
      eventType: body.eventType,
      title: body.title ?? null,
      points: new Decimal(body.points),
      minPoints: decimalOrNull(body.minPoints),
      maxPoints: decimalOrNull(body.maxPoints),
      requiresConfirmation: body.requiresConfirmation ?? false,
      dailyCap: decimalOrNull(body.dailyCap),
      monthlyCap: decimalOrNull(body.monthlyCap),
      validFrom: optionalMoment(body.validFrom, 'validFrom') ?? null,
      validTo: optionalMoment(body.validTo, 'validTo') ?? null,
      expiresAfterDays: body.expiresAfterDays ?? null,
    });
    return EarningRuleDto.of(rule);
  }

  @Get('earning-rules')
  @ApiOperation({ summary: 'List earning rules' })
  @ApiOkResponse({ type: EarningRulePageDto })
  @ApiProblems('validation_failed')
  async list(@Query() query: RuleListQueryDto): Promise<EarningRulePageDto> {
    const page = await this.admin.listRules(query.limit, query.cursor, query.sourceId);
    return { items: page.items.map(EarningRuleDto.of), nextCursor: page.nextCursor };
  }

  @Get('earning-rules/:id')
  @ApiOperation({ summary: 'An earning rule' })
  @ApiOkResponse({ type: EarningRuleDto })
  @ApiProblems('not_found')
  async get(@Param('id') id: string): Promise<EarningRuleDto> {
    return EarningRuleDto.of(await this.admin.getRule(id));
  }

  @Patch('earning-rules/:id')
  @ApiOperation({ summary: 'Change an earning rule; events already accrued keep their points' })
  @ApiOkResponse({ type: EarningRuleDto })
  @ApiProblems('validation_failed', 'not_found')
  async update(@Param('id') id: string, @Body() body: UpdateEarningRuleDto): Promise<EarningRuleDto> {
    const rule = await this.admin.updateRule(id, {
      ...(body.title !== undefined ? { title: body.title } : {}),
      ...(body.points !== undefined ? { points: new Decimal(body.points) } : {}),
      ...(body.requiresConfirmation !== undefined ? { requiresConfirmation: body.requiresConfirmation } : {}),
      ...(body.dailyCap !== undefined ? { dailyCap: decimalOrNull(body.dailyCap) } : {}),
      ...(body.monthlyCap !== undefined ? { monthlyCap: decimalOrNull(body.monthlyCap) } : {}),
      ...(body.validFrom !== undefined ? { validFrom: optionalMoment(body.validFrom, 'validFrom') } : {}),
      ...(body.validTo !== undefined ? { validTo: optionalMoment(body.validTo, 'validTo') } : {}),
      ...(body.expiresAfterDays !== undefined ? { expiresAfterDays: body.expiresAfterDays } : {}),
    });
    return EarningRuleDto.of(rule);
  }

  @Post('campaigns')
  @ApiOperation({ summary: 'Create a campaign: a bonus multiplier for a source or event type in a window' })
  @ApiCreatedResponse({ type: CampaignDto })
  @ApiProblems('validation_failed', 'not_found', 'already_exists')
  async createCampaign(@Body() body: CreateCampaignDto): Promise<CampaignDto> {
    const campaign = await this.admin.createCampaign({
      id: body.id,
      name: body.name,
      sourceId: body.sourceId ?? null,
      eventType: body.eventType ?? null,
      multiplier: new Decimal(body.multiplier),
      validFrom: optionalMoment(body.validFrom, 'validFrom')!,
      validTo: optionalMoment(body.validTo, 'validTo')!,
      expiresAfterDays: body.expiresAfterDays ?? null,
    });
    return CampaignDto.of(campaign);
  }

  @Get('campaigns')
  @ApiOperation({ summary: 'List campaigns' })
  @ApiOkResponse({ type: CampaignPageDto })
  @ApiProblems('validation_failed')
  async listCampaigns(@Query() query: PageQueryDto): Promise<CampaignPageDto> {
    const page = await this.admin.listCampaigns(query.limit, query.cursor);
    return { items: page.items.map(CampaignDto.of), nextCursor: page.nextCursor };
  }
}
