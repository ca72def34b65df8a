import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { IsIn, IsOptional } from 'class-validator';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { actorOf, ClientPrincipal } from '../common/principal';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { UUID_PARAM } from '../common/params';
import {
  RECONCILIATION_SCOPES,
  ReconciliationRun,
  ReconciliationScope,
  ReconciliationService,
  RunCoverage,
} from './reconciliation.service';

export class CheckDto {
  @ApiProperty({ example: 'trial_balance_zero' }) name: string;
  @ApiProperty() passed: boolean;
  @ApiProperty() detail: string;
  @ApiPropertyOptional({ type: [String], description: 'The offending rows (at most 20)' }) offending?: string[];
}

export class StartReconciliationDto {
  @ApiPropertyOptional({
    enum: RECONCILIATION_SCOPES,
    default: 'incremental',
    description: 'incremental: what changed since the last passed run; full: everything, month by month',
  })
  @IsOptional()
  @IsIn(RECONCILIATION_SCOPES)
  scope?: ReconciliationScope;
}

export class SealRangeDto {
  @ApiProperty({ type: String, nullable: true }) first: string | null;
  @ApiProperty({ type: String, nullable: true }) last: string | null;
}

export class MonthsCoveredDto {
  @ApiProperty({ type: [String], example: ['2026-11'] }) verified: string[];
  @ApiProperty({ type: [String], description: 'finished by the interrupted run this one re-runs' }) carriedOver: string[];
}

export class CoverageDto {
  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'the journal from this moment (null: its beginning)' })
  from: string | null;
  @ApiProperty({
    format: 'date-time',
    description: 'verified up to this moment (the end of the last seal); the next incremental run starts here',
  })
  to: string;
  @ApiProperty({ description: 'an incremental run with no passed run before it: everything was checked' }) effectivelyFull: boolean;
  @ApiProperty() transactions: number;
  @ApiProperty() postings: number;
  @ApiProperty({ description: 'accounts whose balances were proven' }) accounts: number;
  @ApiProperty({ type: SealRangeDto }) seals: SealRangeDto;
  @ApiPropertyOptional({ type: MonthsCoveredDto, description: 'a full run’s months (UTC)' }) months?: MonthsCoveredDto;
}

export class ReconciliationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['running', 'passed', 'failed'] }) status: string;
  @ApiProperty({ enum: ['scheduled', 'manual'] }) trigger: string;
  @ApiProperty({ enum: RECONCILIATION_SCOPES }) scope: string;
  @ApiProperty({ type: CoverageDto, nullable: true, description: 'what the run covered (null while it runs)' }) covered: RunCoverage | null;
  @ApiProperty({ type: String, nullable: true }) requestedBy: string | null;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) finishedAt: string | null;
  @ApiProperty({ type: [CheckDto] }) checks: CheckDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'uuid',
    description: 'The run this one runs again: it was interrupted (its process stopped) and is marked failed',
  })
  retryOf: string | null;

  static of(r: ReconciliationRun): ReconciliationDto {
    return { ...r, startedAt: r.startedAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null };
  }
}

export class ReconciliationPageDto {
  @ApiProperty({ type: [ReconciliationDto] }) items: ReconciliationDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class StartedDto {
  @ApiProperty({ format: 'uuid' }) id: string;
}

@ApiTags('audit')
@Roles('auditor', 'admin')
@Controller('v1/audit/reconciliations')
export class ReconciliationController {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start a reconciliation now (incremental unless the body says full); read its report at /v1/audit/reconciliations/{id}',
  })
  @ApiAcceptedResponse({ type: StartedDto })
  @ApiProblems('validation_failed')
  async start(@CurrentClient() client: ClientPrincipal, @Body() body: StartReconciliationDto): Promise<StartedDto> {
    return { id: (await this.reconciliation.start(actorOf(client), body.scope)).id };
  }

  @Get()
  @ApiOperation({ summary: 'Reconciliation runs, newest first' })
  @ApiOkResponse({ type: ReconciliationPageDto })
  @ApiProblems('validation_failed')
  async list(@Query() query: PageQueryDto): Promise<ReconciliationPageDto> {
    const page = await this.reconciliation.list(query.limit, query.cursor);
    return { items: page.items.map(ReconciliationDto.of), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A reconciliation run and its checks' })
  @ApiOkResponse({ type: ReconciliationDto })
  @ApiProblems('validation_failed', 'not_found')
  async get(@Param('id', UUID_PARAM) id: string): Promise<ReconciliationDto> {
    return ReconciliationDto.of(await this.reconciliation.get(id));
  }
}
