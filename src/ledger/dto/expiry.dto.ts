import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { Decimal, formatAmount } from '../../common/money';
import { ExpiryPolicy, MAX_EXPIRY_DAYS, MAX_NOTICE_DAYS } from '../domain/expiry';

export class ExpiryPolicyDto {
  @ApiProperty({ type: Number, nullable: true, example: 365, description: 'Days until credited points expire; null: never' })
  @ValidateIf((_, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_EXPIRY_DAYS)
  afterDays: number | null;

  @ApiPropertyOptional({ enum: ['day', 'month_end'], default: 'day', description: 'Rounded up to the end of that day or month (Moscow)' })
  @IsOptional()
  @IsIn(['day', 'month_end'])
  roundUpTo?: 'day' | 'month_end';

  @ApiPropertyOptional({
    example: 14,
    default: 0,
    description: 'Days before a date that residents are notified (points.expiring); 0: none',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_NOTICE_DAYS)
  noticeDays?: number;

  static of(policy: ExpiryPolicy): ExpiryPolicyDto {
    return { afterDays: policy.afterDays, roundUpTo: policy.roundUpTo, noticeDays: policy.noticeDays };
  }
}

export class ExpiringPointsDto {
  @ApiProperty({ example: '100' }) amount: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;

  static of(e: { amount: Decimal; expiresAt: Date }): ExpiringPointsDto {
    return { amount: formatAmount(e.amount, 0), expiresAt: e.expiresAt.toISOString() };
  }
}
