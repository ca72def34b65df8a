import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { actorOf, ClientPrincipal } from '../common/principal';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { UUID_PARAM } from '../common/params';
import { ReconciliationRun, ReconciliationService } from './reconciliation.service';

export class CheckDto {
  @ApiProperty({ example: 'trial_balance_zero' }) name: string;
  @ApiProperty() passed: boolean;
  @ApiProperty() detail: string;
  @ApiPropertyOptional({ type: [String], description: 'The offending rows (at most 20)' }) offending?: string[];
}

export class ReconciliationDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['running', 'passed', 'failed'] }) status: string;
  @ApiProperty({ enum: ['scheduled', 'manual'] }) trigger: string;
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
  @ApiOperation({ summary: 'Start a reconciliation now; read its report at /v1/audit/reconciliations/{id}' })
  @ApiAcceptedResponse({ type: StartedDto })
  async start(@CurrentClient() client: ClientPrincipal): Promise<StartedDto> {
    return { id: (await this.reconciliation.start(actorOf(client))).id };
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
