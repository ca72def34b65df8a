import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { ApiClientRecord } from '../api-clients.repository';
import { CLIENT_ROLES, ClientRole } from '../../common/principal';

export class CreateApiClientDto {
  @ApiProperty({ example: 'Our City production' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;

  @ApiProperty({ enum: CLIENT_ROLES })
  @IsIn(CLIENT_ROLES)
  role: ClientRole;

  @ApiPropertyOptional({ description: 'Required for role source: the source the key posts for' })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `sourceId must be ${SLUG_ID_HINT}` })
  sourceId?: string;

  @ApiPropertyOptional({ description: 'Required for role partner: the partner the key acts for' })
  @IsOptional()
  @IsString()
  @Matches(SLUG_ID, { message: `partnerId must be ${SLUG_ID_HINT}` })
  partnerId?: string;
}

export class ApiClientDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: CLIENT_ROLES }) role: ClientRole;
  @ApiProperty({ type: String, nullable: true }) sourceId: string | null;
  @ApiProperty({ type: String, nullable: true }) partnerId: string | null;
  @ApiProperty({ example: 'cpl_AbCdEfGh', description: 'The first characters of the key' }) keyPrefix: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt: string | null;

  static of(record: ApiClientRecord): ApiClientDto {
    return {
      id: record.id,
      name: record.name,
      role: record.role,
      sourceId: record.sourceId,
      partnerId: record.partnerId,
      keyPrefix: record.keyPrefix,
      createdAt: record.createdAt.toISOString(),
      revokedAt: record.revokedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedApiClientDto extends ApiClientDto {
  @ApiProperty({ description: 'The key itself. Shown this once: only its hash is stored.' })
  apiKey: string;
}

export class ApiClientPageDto {
  @ApiProperty({ type: [ApiClientDto] }) items: ApiClientDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
