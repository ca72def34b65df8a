import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../auth/access.decorators';
import { ClientPrincipal } from '../auth/domain/principal';
import { invalidInput } from '../common/errors';
import { ApiProblems } from '../common/openapi';
import { EarnEventDto, EarnEventsBatchDto, IntakeResponseDto } from './dto/earning.dto';
import { EarningService } from './earning.service';

const EXTERNAL_ID = /^[\x21-\x7e]{1,200}$/;

/** Participation services post their events here; the source is always the key's, never the body's. */
@ApiTags('earning')
@Roles('source')
@Controller('v1/earn-events')
export class EarnEventsController {
  constructor(private readonly earning: EarningService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Post 1 to 1000 earn events; each is accepted, a duplicate or rejected' })
  @ApiAcceptedResponse({ type: IntakeResponseDto })
  @ApiProblems('validation_failed', 'payload_too_large')
  async post(@CurrentClient() client: ClientPrincipal, @Body() body: EarnEventsBatchDto): Promise<IntakeResponseDto> {
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
