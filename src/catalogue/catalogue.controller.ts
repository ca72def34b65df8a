import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentClient, Public, Roles } from '../common/access';
import { ClientPrincipal } from '../common/principal';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { APP_CONFIG, AppConfig } from '../config/config';
import { CatalogueService } from './catalogue.service';
import { codesOf } from './code-upload';
import {
  CatalogueItemDto,
  CataloguePageDto,
  CatalogueQueryDto,
  CreateCatalogueItemDto,
  UpdateCatalogueItemDto,
  UploadCodesDto,
  UploadResultDto,
} from './dto/catalogue.dto';

const dec = (v?: string) => (v === undefined ? null : new Decimal(v));

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin')
export class CatalogueAdminController {
  constructor(
    private readonly catalogue: CatalogueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('catalogue-items')
  @ApiOperation({ summary: 'Add an item to the catalogue: a promo code, a ticket or a donation' })
  @ApiCreatedResponse({ type: CatalogueItemDto })
  @ApiProblems('validation_failed', 'not_found', 'already_exists')
  async create(@Body() b: CreateCatalogueItemDto): Promise<CatalogueItemDto> {
    const item = await this.catalogue.createItem({
      id: b.id,
      kind: b.kind,
      title: b.title,
      partnerId: b.partnerId,
      pricePoints: dec(b.pricePoints),
      stock: b.stock ?? null,
      perResidentLimit: b.perResidentLimit ?? null,
      codeSource: b.codeSource ?? null,
      codeValidDays: b.codeValidDays ?? null,
      cancelWindowHours: b.cancelWindowHours ?? 24,
      activeFrom: optionalMoment(b.activeFrom, 'activeFrom') ?? null,
      activeTo: optionalMoment(b.activeTo, 'activeTo') ?? null,
      minPoints: dec(b.minPoints),
      maxPoints: dec(b.maxPoints),
      categoryId: b.categoryId ?? null,
    });
    return CatalogueItemDto.of(item);
  }

  @Get('catalogue-items/:id')
  @ApiOperation({ summary: 'A catalogue item' })
  @ApiOkResponse({ type: CatalogueItemDto })
  @ApiProblems('not_found')
  async get(@Param('id') id: string): Promise<CatalogueItemDto> {
    return CatalogueItemDto.of(await this.catalogue.getItem(id));
  }

  @Patch('catalogue-items/:id')
  @ApiOperation({ summary: 'Change price, stock, limits or activity of an item' })
  @ApiOkResponse({ type: CatalogueItemDto })
  @ApiProblems('validation_failed', 'not_found')
  async update(@Param('id') id: string, @Body() b: UpdateCatalogueItemDto): Promise<CatalogueItemDto> {
    const item = await this.catalogue.updateItem(id, {
      ...(b.title !== undefined ? { title: b.title } : {}),
      ...(b.pricePoints !== undefined ? { pricePoints: new Decimal(b.pricePoints) } : {}),
      ...(b.stock !== undefined ? { stock: b.stock } : {}),
      ...(b.perResidentLimit !== undefined ? { perResidentLimit: b.perResidentLimit } : {}),
      ...(b.cancelWindowHours !== undefined ? { cancelWindowHours: b.cancelWindowHours } : {}),
      ...(b.activeFrom !== undefined ? { activeFrom: optionalMoment(b.activeFrom, 'activeFrom') } : {}),
      ...(b.activeTo !== undefined ? { activeTo: optionalMoment(b.activeTo, 'activeTo') } : {}),
      ...(b.categoryId !== undefined ? { categoryId: b.categoryId } : {}),
    });
    return CatalogueItemDto.of(item);
  }

  @Post('items/:itemId/codes')
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload a code pool: JSON {codes: [...]} or text/csv (one code a line, streamed)' })
  @ApiConsumes('application/json', 'text/csv')
  @ApiBody({ type: UploadCodesDto })
  @ApiOkResponse({ type: UploadResultDto })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state', 'payload_too_large', 'unsupported_media_type')
  async upload(@Param('itemId') itemId: string, @Req() req: Request): Promise<UploadResultDto> {
    return this.catalogue.uploadCodes(itemId, codesOf(req, this.config.codeUploadLimit));
  }
}

@ApiTags('partners')
@Roles('partner')
@Controller('v1/partner/items')
export class PartnerCodeUploadController {
  constructor(
    private readonly catalogue: CatalogueService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post(':itemId/codes')
  @HttpCode(200)
  @ApiOperation({ summary: 'Upload codes to a pool of one of my items' })
  @ApiConsumes('application/json', 'text/csv')
  @ApiBody({ type: UploadCodesDto })
  @ApiOkResponse({ type: UploadResultDto })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state', 'payload_too_large', 'unsupported_media_type')
  async upload(@CurrentClient() partner: ClientPrincipal, @Param('itemId') itemId: string, @Req() req: Request): Promise<UploadResultDto> {
    return this.catalogue.uploadCodes(itemId, codesOf(req, this.config.codeUploadLimit), partner.partnerId!);
  }
}

@ApiTags('catalogue')
@Public()
@Controller('v1/catalogue')
export class PublicCatalogueController {
  constructor(private readonly catalogue: CatalogueService) {}

  @Get()
  @ApiOperation({ summary: 'The active catalogue, with what is still available of each item' })
  @ApiOkResponse({ type: CataloguePageDto })
  @ApiProblems('validation_failed')
  async list(@Query() query: CatalogueQueryDto): Promise<CataloguePageDto> {
    const page = await this.catalogue.catalogue(query.limit, query.cursor, new Date(), query.category);
    return { items: page.items.map((e) => CatalogueItemDto.of(e.item, e.available)), nextCursor: page.nextCursor };
  }
}
