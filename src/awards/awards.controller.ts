import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { stringify } from 'csv-stringify';
import type { Request, Response } from 'express';
import { once } from 'node:events';
import { CurrentClient, Roles } from '../auth/access.decorators';
import { actorOf, ClientPrincipal } from '../auth/domain/principal';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { optionalMoment, UUID_PARAM } from '../common/params';
import { APP_CONFIG, AppConfig } from '../config/config';
import { uploadLinesOf } from './award-upload';
import { AwardsService } from './awards.service';
import { AwardDto, AwardPageDto, CreateAwardQueryDto, UploadAwardDto } from './dto/award.dto';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin/awards')
export class AwardsController {
  constructor(
    private readonly awards: AwardsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Upload a bulk award: text/csv (residentId,points[,reference] a line, streamed) or JSON {rows}',
    description:
      'Validates and stores every row; nothing is credited until execute. Refused lines go to the error file. ' +
      'An award of the same rows and description as an earlier one is accepted with a `possible_duplicate` warning.',
  })
  @ApiConsumes('text/csv', 'application/json')
  @ApiBody({ type: UploadAwardDto })
  @ApiAcceptedResponse({ type: AwardDto })
  @ApiProblems('validation_failed', 'payload_too_large', 'unsupported_media_type')
  async create(@CurrentClient() admin: ClientPrincipal, @Query() q: CreateAwardQueryDto, @Req() req: Request): Promise<AwardDto> {
    const award = await this.awards.create(
      {
        description: q.description,
        expiresAt: optionalMoment(q.expiresAt, 'expiresAt'),
        budget: q.budget === undefined ? undefined : new Decimal(q.budget),
        actor: actorOf(admin),
      },
      uploadLinesOf(req, this.config.awards.uploadLimit),
    );
    return AwardDto.of(award);
  }

  @Get()
  @ApiOperation({ summary: 'Awards, newest first' })
  @ApiOkResponse({ type: AwardPageDto })
  @ApiProblems('validation_failed')
  async list(@Query() q: PageQueryDto): Promise<AwardPageDto> {
    const page = await this.awards.list(q.limit, q.cursor);
    return { items: page.items.map((a) => AwardDto.of(a)), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'An award and its progress (credited, failed)' })
  @ApiOkResponse({ type: AwardDto })
  @ApiProblems('validation_failed', 'not_found')
  async get(@Param('id', UUID_PARAM) id: string): Promise<AwardDto> {
    return AwardDto.of(await this.awards.get(id));
  }

  @Post(':id/execute')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Credit every valid row of the award, each exactly once (in chunks, in the background)',
    description:
      'Refused with 409 `limit_exceeded` when the total exceeds the budget, 409 `invalid_state` while the upload validates or once ' +
      'the award is done. On a running award it resumes an execution that stopped; rows already credited are never credited again.',
  })
  @ApiAcceptedResponse({ type: AwardDto })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state', 'limit_exceeded')
  async execute(@Param('id', UUID_PARAM) id: string): Promise<AwardDto> {
    return AwardDto.of(await this.awards.execute(id));
  }

  @Get(':id/errors')
  @ApiOperation({ summary: 'The error file: refused lines with their reasons, as CSV (streamed)' })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'line,residentId,points,reference,reason,detail', schema: { type: 'string' } })
  @ApiProblems('validation_failed', 'not_found')
  async errors(@Param('id', UUID_PARAM) id: string, @Res() res: Response): Promise<void> {
    await this.awards.get(id); // a 404 before any byte of CSV
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="award-${id}-errors.csv"`);
    const csv = stringify({ header: true, columns: ['line', 'residentId', 'points', 'reference', 'reason', 'detail'] });
    csv.pipe(res);
    try {
      for await (const r of this.awards.errors(id)) {
        if (!csv.write([r.line, cell(r.residentId), cell(r.points), cell(r.reference), r.reason, cell(r.detail)])) await once(csv, 'drain');
      }
    } finally {
      csv.end();
    }
  }
}

/**
 * A cell of the error file as uploaded, kept from being read as a formula by a spreadsheet
 * (CSV injection): text that starts with =, +, @, a tab or a return, or with - and no number,
 * gets a leading apostrophe.
 */
function cell(value: string | null): string {
  if (!value) return '';
  return /^[=+@\t\r]|^-(?!\d+$)/.test(value) ? `'${value}` : value;
}
