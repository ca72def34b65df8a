import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { RESIDENT_ID, RESIDENT_ID_HINT } from '../../common/identifiers';
import { IsDecimalString } from '../../common/validators';

export class CreateAdjustmentDto {
  @ApiProperty({ example: 'anna' })
  @IsString()
  @Matches(RESIDENT_ID, { message: `residentId must be ${RESIDENT_ID_HINT}` })
  residentId: string;

  @ApiProperty({ example: '-50', description: 'Signed whole points: positive credits the resident, negative debits' })
  @IsDecimalString({ signed: true })
  amount: string;

  @ApiProperty({ example: 'Duplicate accrual for report 123', minLength: 3, maxLength: 500 })
  @IsString()
  @MinLength(3)
  @MaxLength(500)
  reason: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the points a positive adjustment credits expire (default: the expiry policy)',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}
