import { ArgumentMetadata, Body, Controller, Get, HttpCode, Injectable, Param, PipeTransform, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { ClientPrincipal } from '../common/principal';
import { invalidInput } from '../common/errors';
import { ApiProblems } from '../common/openapi';
import { createValidationPipe } from '../common/validation';
import { EarnEventDto, EarnEventsBatchDto, IntakeResponseDto, isValidBatch } from './dto/earning.dto';
import { EarningService } from './earning.service';

const EXTERNAL_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * The batch's body: a valid batch is checked by `isValidBatch` (the DTO's own predicates, no
 * instance per event); any other goes through the validation pipe, which names every error.
 */
@Injectable()
export class EarnBatchPipe implements PipeTransform<unknown, Promise<EarnEventsBatchDto>> {
  private readonly pipe = createValidationPipe();

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<EarnEventsBatchDto> {
    if (isValidBatch(value)) return value;
    return (await this.pipe.transform(value, { ...metadata, metatype: EarnEventsBatchDto })) as EarnEventsBatchDto;
  }
}

/** Participation services post their events here; the source is always the key's, never the body's. */
@ApiTags('earning')
@Roles('source')
@Controller('v1/earn-events')
export class EarnEventsController {
  constructor(private readonly earning: EarningService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Post 1 to 1000 earn events; each is accepted, a duplicate or rejected' })
  @ApiBody({ type: EarnEventsBatchDto })
  @ApiAcceptedResponse({ type: IntakeResponseDto })
  @ApiProblems('validation_failed', 'payload_too_large')
  // typed `unknown` for the global pipe, which then leaves the body to EarnBatchPipe
  async post(@CurrentClient() client: ClientPrincipal, @Body(EarnBatchPipe) batch: unknown): Promise<IntakeResponseDto> {
    const body = batch as EarnEventsBatchDto;
    const results = await this.earning.accept(
      client.sourceId!,
      body.events.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt) })),
    );
    return { results };
  }

  @Get(':externalId')
  @ApiParam({ name: 'externalId' })
  @ApiOperation({ summary: 'An event of this source: its status and points' })
  @ApiOkResponse({ type: EarnEventDto })
  @ApiProblems('not_found')
  async get(@CurrentClient() client: ClientPrincipal, @Param('externalId') externalId: string): Promise<EarnEventDto> {
    return EarnEventDto.of(await this.earning.get(client.sourceId!, checked(externalId)));
  }

  @Post(':externalId/confirm')
  @HttpCode(200)
  @ApiOperation({ summary: 'pending → posted: the points become spendable' })
  @ApiOkResponse({ type: EarnEventDto })
  @ApiProblems('not_found', 'invalid_state')
  async confirm(@CurrentClient() client: ClientPrincipal, @Param('externalId') externalId: string): Promise<EarnEventDto> {
    return EarnEventDto.of(await this.earning.confirm(client.sourceId!, checked(externalId)));
  }

  @Post(':externalId/reject')
  @HttpCode(200)
  @ApiOperation({ summary: 'pending → rejected: the pending points are voided' })
  @ApiOkResponse({ type: EarnEventDto })
  @ApiProblems('not_found', 'invalid_state')
  async reject(@CurrentClient() client: ClientPrincipal, @Param('externalId') externalId: string): Promise<EarnEventDto> {
    return EarnEventDto.of(await this.earning.reject(client.sourceId!, checked(externalId)));
  }

  @Post(':externalId/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'posted → revoked: the accrual is reversed; what was already spent becomes debt' })
  @ApiOkResponse({ type: EarnEventDto })
  @ApiProblems('not_found', 'invalid_state')
  async revoke(@CurrentClient() client: ClientPrincipal, @Param('externalId') externalId: string): Promise<EarnEventDto> {
    return EarnEventDto.of(await this.earning.revoke(client.sourceId!, checked(externalId)));
  }
}

function checked(externalId: string): string {
  if (!EXTERNAL_ID.test(externalId)) throw invalidInput('externalId must be 1 to 200 printable characters');
  return externalId;
}
