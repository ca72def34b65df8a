import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { CatalogueCategory, MAX_CATEGORY_NAME } from '../domain/category';
import { CategoryWithCount } from '../categories.service';

export class CategoryNamesDto {
  @ApiProperty({ example: 'Музеи' }) @IsString() @MinLength(1) @MaxLength(MAX_CATEGORY_NAME) ru: string;
  @ApiProperty({ example: 'Museums' }) @IsString() @MinLength(1) @MaxLength(MAX_CATEGORY_NAME) en: string;
}

export class CategoryNamesPatchDto {
  @ApiPropertyOptional({ example: 'Музеи' }) @IsOptional() @IsString() @MinLength(1) @MaxLength(MAX_CATEGORY_NAME) ru?: string;
  @ApiPropertyOptional({ example: 'Museums' }) @IsOptional() @IsString() @MinLength(1) @MaxLength(MAX_CATEGORY_NAME) en?: string;
}

export class CreateCategoryDto {
  @ApiProperty({ example: 'museums' })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ type: CategoryNamesDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CategoryNamesDto)
  names: CategoryNamesDto;

  @ApiPropertyOptional({ example: 30, default: 0, minimum: 0, maximum: 1_000_000, description: 'Order on the page: smaller first' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  position?: number;
}

export class UpdateCategoryDto {
  @ApiPropertyOptional({ type: CategoryNamesPatchDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CategoryNamesPatchDto)
  names?: CategoryNamesPatchDto;

  @ApiPropertyOptional({ example: 30, minimum: 0, maximum: 1_000_000 }) @IsOptional() @IsInt() @Min(0) @Max(1_000_000) position?: number;
}

export class CategoryDto {
  @ApiProperty({ example: 'museums' }) id: string;
  @ApiProperty({ type: CategoryNamesDto }) names: CategoryNamesDto;
  @ApiProperty({ example: 30 }) position: number;
  @ApiPropertyOptional({ example: 4, description: 'Items in this category (the public list: active items)' }) itemCount?: number;

  static of(c: CatalogueCategory | CategoryWithCount): CategoryDto {
    return {
      id: c.id,
      names: { ru: c.names.ru, en: c.names.en },
      position: c.position,
      ...('itemCount' in c ? { itemCount: c.itemCount } : {}),
    };
  }
}

export class CategoryListDto {
  @ApiProperty({ type: [CategoryDto] }) items: CategoryDto[];
}
