import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { RedemptionRecord } from '../redemption.repository';
import { SLUG_ID, SLUG_ID_HINT } from '../../common/identifiers';
import { Decimal, formatAmount } from '../../common/money';
import { WHOLE_POINTS, WHOLE_POINTS_HINT } from '../../common/validators';
import { MAX_QUANTITY } from '../redemption.service';

export class CreateRedemptionDto {
  @ApiProperty({ example: 'coffee-discount' })
  @IsString()
  @Matches(SLUG_ID, { message: `itemId must be ${SLUG_ID_HINT}` })
  itemId: string;

  @ApiPropertyOptional({ example: 1, default: 1, minimum: 1, maximum: MAX_QUANTITY })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  quantity?: number;
}

export class CreateDonationDto {
  @ApiProperty({ example: 'children-fund-donation' })
  @IsString()
  @Matches(SLUG_ID, { message: `itemId must be ${SLUG_ID_HINT}` })
  itemId: string;

  @ApiProperty({ example: '150', description: 'Whole points, between the item’s minPoints and maxPoints' })
  @Matches(WHOLE_POINTS, { message: `amount must be ${WHOLE_POINTS_HINT}` })
  amount: string;
}

export class IssuedCodeDto {
  @ApiProperty({ example: '7KQ2M9XWT4HCE' }) code: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) validUntil: string | null;
  @ApiPropertyOptional({ enum: ['issued', 'redeemed', 'cancelled'] }) status?: string;
}

export class RedemptionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() itemId: string;
  @ApiProperty({ enum: ['PROMO_CODE', 'TICKET', 'DONATION'] }) kind: string;
  @ApiProperty({ enum: ['completed', 'cancelled'] }) status: string;
  @ApiProperty() quantity: number;
  @ApiProperty({ example: '100' }) pointsSpent: string;
  @ApiProperty({ type: [IssuedCodeDto] }) codes: IssuedCodeDto[];
  @ApiPropertyOptional({ example: '150', description: 'Available points after this operation' }) balanceAfter?: string;
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) cancelledAt: string | null;

  static of(r: RedemptionRecord, balanceAfter?: Decimal): RedemptionDto {
    return {
      id: r.id,
      itemId: r.itemId,
      kind: r.kind,
      status: r.status,
      quantity: r.quantity,
      pointsSpent: formatAmount(r.pointsSpent, 0),
      codes: r.codes.map((c) => ({ code: c.code, validUntil: c.validUntil?.toISOString() ?? null, status: c.status })),
      ...(balanceAfter ? { balanceAfter: formatAmount(balanceAfter, 0) } : {}),
      transactionId: r.transactionId,
      createdAt: r.createdAt.toISOString(),
      cancelledAt: r.cancelledAt?.toISOString() ?? null,
    };
  }
}

export class RedemptionPageDto {
  @ApiProperty({ type: [RedemptionDto] }) items: RedemptionDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
