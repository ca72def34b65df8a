import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { Partner, PARTNER_KINDS, PartnerKind, Source } from '../domain/partner';

export class CreateSourceDto {
  @ApiProperty({ example: 'our-city', description: `Source id: ${SLUG_ID_HINT}` })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ example: 'Our City (problem reports)' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;
}

export class SourceDto {
  @ApiProperty({ example: 'our-city' }) id: string;
  @ApiProperty({ example: 'Our City (problem reports)' }) name: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(source: Source): SourceDto {
    return { id: source.id, name: source.name, createdAt: source.createdAt.toISOString() };
  }
}

export class SourcePageDto {
  @ApiProperty({ type: [SourceDto] }) items: SourceDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class CreatePartnerDto {
  @ApiProperty({ example: 'coffee-house', description: `Partner id: ${SLUG_ID_HINT}` })
  @IsString()
  @Matches(SLUG_ID, { message: `id must be ${SLUG_ID_HINT}` })
  id: string;

  @ApiProperty({ example: 'Coffee House' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiProperty({ enum: PARTNER_KINDS })
  @IsIn(PARTNER_KINDS)
  kind: PartnerKind;
}

export class PartnerDto {
  @ApiProperty({ example: 'coffee-house' }) id: string;
  @ApiProperty({ example: 'Coffee House' }) name: string;
  @ApiProperty({ enum: PARTNER_KINDS }) kind: PartnerKind;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(partner: Partner): PartnerDto {
    return { id: partner.id, name: partner.name, kind: partner.kind, createdAt: partner.createdAt.toISOString() };
  }
}

export class PartnerPageDto {
  @ApiProperty({ type: [PartnerDto] }) items: PartnerDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
