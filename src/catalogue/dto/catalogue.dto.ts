import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { formatAmount } from '../../common/money';
import { PageQueryDto } from '../../common/pagination';
import { WHOLE_POINTS } from '../../common/validators';
import { CatalogueItem, CODE_SOURCES, CodeSource, ITEM_KINDS, ItemKind } from '../domain/item';

const POINTS_HINT = 'a whole number of points as a string, such as "100"';

export class CreateCatalogueItemDto {
  @ApiProperty({ example: 'coffee-discount' })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ enum: ITEM_KINDS }) @IsIn(ITEM_KINDS) kind: ItemKind;

  @ApiProperty({ example: '20% off any coffee' }) @IsString() @MinLength(1) @MaxLength(200) title: string;

  @ApiProperty({ example: 'coffee-chain' })
  @IsString()
  @Matches(SLUG_ID, { message: `partnerId must be ${SLUG_ID_HINT}` })
  partnerId: string;

  @ApiPropertyOptional({ example: '100', description: 'Price of one; not for DONATION items' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: `pricePoints must be ${POINTS_HINT}` })
  pricePoints?: string;

  @ApiPropertyOptional({ example: 500, description: 'How many may be sold; omitted: unlimited (a pool is limited by its codes)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  stock?: number;

  @ApiPropertyOptional({ example: 1 }) @IsOptional() @IsInt() @Min(1) @Max(1_000_000) perResidentLimit?: number;

  @ApiPropertyOptional({ enum: CODE_SOURCES, description: 'POOL: codes uploaded; GENERATED: made at redemption' })
  @IsOptional()
  @IsIn(CODE_SOURCES)
  codeSource?: CodeSource;

  @ApiPropertyOptional({ example: 30, description: 'Days a code stays valid after redemption' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  codeValidDays?: number;

  @ApiPropertyOptional({ example: 24, default: 24 }) @IsOptional() @IsInt() @Min(0) @Max(8760) cancelWindowHours?: number;

  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) activeFrom?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) activeTo?: string;

  @ApiPropertyOptional({ example: '10', description: 'DONATION: the smallest amount' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: `minPoints must be ${POINTS_HINT}` })
  minPoints?: string;

  @ApiPropertyOptional({ example: '5000', description: 'DONATION: the largest amount' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: `maxPoints must be ${POINTS_HINT}` })
  maxPoints?: string;

  @ApiPropertyOptional({ example: 'museums', description: 'The category residents find it under' })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `categoryId must be ${SLUG_ID_HINT}` })
  categoryId?: string;
}

export class UpdateCatalogueItemDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(200) title?: string;
  @ApiPropertyOptional({ example: '120' })
  @IsOptional()
  @Matches(WHOLE_POINTS, { message: `pricePoints must be ${POINTS_HINT}` })
  pricePoints?: string;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(100_000_000) stock?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(1_000_000) perResidentLimit?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(8760) cancelWindowHours?: number;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) activeFrom?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) activeTo?: string;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'museums', description: 'Another category, or null for none' })
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsString()
  @Matches(SLUG_ID, { message: `categoryId must be ${SLUG_ID_HINT}` })
  categoryId?: string | null;
}

export class CatalogueQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'museums', description: 'Only the items of this category' })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `category must be ${SLUG_ID_HINT}` })
  category?: string;
}

export class CatalogueItemDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ITEM_KINDS }) kind: ItemKind;
  @ApiProperty() title: string;
  @ApiProperty() partnerId: string;
  @ApiProperty({ type: String, nullable: true, example: '100' }) pricePoints: string | null;
  @ApiProperty({ type: Number, nullable: true }) stock: number | null;
  @ApiProperty() sold: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Still available; null: unlimited' }) available?: number | null;
  @ApiProperty({ type: Number, nullable: true }) perResidentLimit: number | null;
  @ApiProperty({ enum: CODE_SOURCES, nullable: true }) codeSource: CodeSource | null;
  @ApiProperty({ type: Number, nullable: true }) codeValidDays: number | null;
  @ApiProperty() cancelWindowHours: number;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) activeFrom: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) activeTo: string | null;
  @ApiProperty({ type: String, nullable: true }) minPoints: string | null;
  @ApiProperty({ type: String, nullable: true }) maxPoints: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'museums' }) categoryId: string | null;

  static of(i: CatalogueItem, available?: number | null): CatalogueItemDto {
    const points = (v: CatalogueItem['pricePoints']) => (v ? formatAmount(v, 0) : null);
    return {
      id: i.id,
      kind: i.kind,
      title: i.title,
      partnerId: i.partnerId,
      pricePoints: points(i.pricePoints),
      stock: i.stock,
      sold: i.sold,
      ...(available !== undefined ? { available } : {}),
      perResidentLimit: i.perResidentLimit,
      codeSource: i.codeSource,
      codeValidDays: i.codeValidDays,
      cancelWindowHours: i.cancelWindowHours,
      activeFrom: i.activeFrom?.toISOString() ?? null,
      activeTo: i.activeTo?.toISOString() ?? null,
      minPoints: points(i.minPoints),
      maxPoints: points(i.maxPoints),
      categoryId: i.categoryId,
    };
  }
}

export class CataloguePageDto {
  @ApiProperty({ type: [CatalogueItemDto] }) items: CatalogueItemDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class UploadCodesDto {
  @ApiProperty({ type: [String], example: ['CAFE-0001', 'CAFE-0002'], description: 'Up to 100,000 codes; larger pools: text/csv' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  codes: string[];
}

export class UploadResultDto {
  @ApiProperty({ example: 2 }) added: number;
  @ApiProperty({ example: 0 }) duplicates: number;
}
