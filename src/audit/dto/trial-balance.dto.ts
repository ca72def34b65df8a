import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from '../../common/pagination';

export class TrialBalanceQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, description: 'Accounts a page; without it, every account in one answer' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'The nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not one this service issued' })
  cursor?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'The books as they stood at this moment (default: now)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  asOf?: string;
}

export class TrialBalanceAccountDto {
  @ApiProperty({ example: 'resident:anna' }) account: string;
  @ApiProperty({ example: 'POINTS' }) asset: string;
  @ApiProperty({ example: '0' }) debits: string;
  @ApiProperty({ example: '200' }) credits: string;
  @ApiProperty({ example: '200', description: "In the account's normal direction" }) balance: string;
}

export class TrialBalanceTotalDto {
  @ApiProperty({ example: 'POINTS' }) asset: string;
  @ApiProperty({ example: '200' }) debits: string;
  @ApiProperty({ example: '200' }) credits: string;
}

export const ACCOUNT_KINDS = ['residents', 'partners', 'funds', 'programme', 'other'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

export class TrialBalanceSubtotalDto {
  @ApiProperty({
    enum: ACCOUNT_KINDS,
    description: 'residents (resident:…), partners (partner:…), funds (charity:…), programme (programme:…)',
  })
  kind: AccountKind;
  @ApiProperty({ example: 'POINTS' }) asset: string;
  @ApiProperty({ example: 1200, description: 'How many accounts of this kind' }) accounts: number;
  @ApiProperty({ example: '0' }) debits: string;
  @ApiProperty({ example: '200' }) credits: string;
  @ApiProperty({ example: '200', description: 'credits minus debits' }) net: string;
}

export class TrialBalanceDto {
  @ApiProperty({ format: 'date-time' }) asOf: string;
  @ApiProperty({ type: [TrialBalanceAccountDto], description: 'This page of the accounts (all of them without limit)' })
  accounts: TrialBalanceAccountDto[];
  @ApiProperty({
    type: [TrialBalanceTotalDto],
    description: 'Per asset, over every account (not only this page); debits always equal credits',
  })
  totals: TrialBalanceTotalDto[];
  @ApiProperty({ type: [TrialBalanceSubtotalDto], description: 'Per kind of account and asset, over every account' })
  subtotals: TrialBalanceSubtotalDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page of accounts' })
  nextCursor: string | null;
}
