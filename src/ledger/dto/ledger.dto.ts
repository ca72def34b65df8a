import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { formatAmount } from '../../common/money';
import { IsDecimalString, IsSmallJsonObject } from '../../common/validators';
import { AccountBalance, LedgerTransaction, TransactionStatus } from '../domain/ledger-transaction';
import { MAX_POSTINGS, MIN_POSTINGS } from '../domain/transaction';

export const TRANSACTION_TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;
const ASSET = /^[A-Z][A-Z0-9_]{1,15}$/;

export class PostingDto {
  @ApiProperty({ example: 'resident:anna' })
  @IsString()
  @MaxLength(200)
  account: string;

  @ApiProperty({ example: 'POINTS' })
  @IsString()
  @Matches(ASSET, { message: 'asset must be an asset code such as POINTS' })
  asset: string;

  @ApiPropertyOptional({ example: '100', description: 'Exactly one of debit and credit' })
  @IsOptional()
  @IsDecimalString()
  debit?: string;

  @ApiPropertyOptional({ example: '100', description: 'Exactly one of debit and credit' })
  @IsOptional()
  @IsDecimalString()
  credit?: string;
}

export class CreateTransactionDto {
  @ApiProperty({ example: 'transfer', description: 'lower-case: letters, digits, ".", "_", "-"' })
  @IsString()
  @Matches(TRANSACTION_TYPE, { message: 'type must be lower-case letters, digits, ".", "_" or "-", at most 64' })
  type: string;

  @ApiProperty({ type: [PostingDto], minItems: MIN_POSTINGS, maxItems: MAX_POSTINGS })
  @IsArray()
  @ArrayMinSize(MIN_POSTINGS)
  @ArrayMaxSize(MAX_POSTINGS)
  @ValidateNested({ each: true })
  @Type(() => PostingDto)
  postings: PostingDto[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { note: 'manual transfer' } })
  @IsOptional()
  @IsSmallJsonObject(8192)
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'A two-phase transaction: reserved now, posted or voided later' })
  @IsOptional()
  @IsBoolean()
  pending?: boolean;

  @ApiPropertyOptional({ format: 'date-time', description: 'When a pending transaction is voided if not posted' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;
}

export class PostPendingDto {
  @ApiPropertyOptional({ example: '80', description: 'Post only this much; the rest is released' })
  @IsOptional()
  @IsDecimalString()
  amount?: string;
}

export class ReverseDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { reason: 'posted in error' } })
  @IsOptional()
  @IsSmallJsonObject(8192)
  metadata?: Record<string, unknown>;
}

export class PostingViewDto {
  @ApiProperty({ example: 'resident:anna' }) account: string;
  @ApiProperty({ example: 'POINTS' }) asset: string;
  @ApiPropertyOptional({ example: '100' }) debit?: string;
  @ApiPropertyOptional({ example: '100' }) credit?: string;
}

const STATUSES: TransactionStatus[] = ['posted', 'pending', 'voided', 'expired', 'void'];

export class TransactionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'transfer' }) type: string;
  @ApiProperty({ enum: STATUSES }) status: TransactionStatus;
  @ApiProperty({ type: [PostingViewDto] }) postings: PostingViewDto[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The pending transaction this one settles' }) pendingId: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The transaction that settled this pending one' }) settledBy: string | null;
  @ApiProperty({ type: String, nullable: true }) reversesId: string | null;
  @ApiProperty({ type: String, nullable: true }) reversedBy: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expiresAt: string | null;
  @ApiProperty({ format: 'date-time' }) effectiveAt: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(t: LedgerTransaction, scales: ReadonlyMap<string, number>): TransactionDto {
    return {
      id: t.id,
      type: t.type,
      status: t.status,
      postings: t.postings.map((p) => {
        const amount = formatAmount(p.amount, scales.get(p.asset) ?? 0);
        return p.side === 'D'
          ? { account: p.account, asset: p.asset, debit: amount }
          : { account: p.account, asset: p.asset, credit: amount };
      }),
      metadata: t.metadata,
      description: t.description,
      pendingId: t.pendingId,
      settledBy: t.settledBy,
      reversesId: t.reversesId,
      reversedBy: t.reversedBy,
      expiresAt: t.expiresAt?.toISOString() ?? null,
      effectiveAt: t.effectiveAt.toISOString(),
      createdAt: t.createdAt.toISOString(),
    };
  }
}

export class BalanceQueryDto {
  @ApiPropertyOptional({ example: 'POINTS', default: 'POINTS' })
  @IsOptional()
  @Matches(ASSET, { message: 'asset must be an asset code such as POINTS' })
  asset: string = 'POINTS';

  @ApiPropertyOptional({ format: 'date-time', description: 'The balance as it stood at this moment' })
  @IsOptional()
  @IsISO8601({ strict: true })
  asOf?: string;
}

export class AccountBalanceDto {
  @ApiProperty({ example: 'resident:anna' }) account: string;
  @ApiProperty({ example: 'POINTS' }) asset: string;
  @ApiProperty({ example: '200', description: "Posted balance, in the account's normal direction" }) posted: string;
  @ApiProperty({ example: '50', description: 'Pending amounts on their way in (not yet spendable)' }) pending: string;
  @ApiProperty({ example: '150', description: 'posted minus amounts held for pending outgoing transactions' }) available: string;
  @ApiProperty({ example: '50' }) pendingIn: string;
  @ApiProperty({ example: '50' }) pendingOut: string;
  @ApiPropertyOptional({ format: 'date-time' }) asOf?: string;

  static of(b: AccountBalance, scale: number, asOf?: Date): AccountBalanceDto {
    const f = (v: AccountBalance['posted']) => formatAmount(v, scale);
    return {
      account: b.account,
      asset: b.asset,
      posted: f(b.posted),
      pending: f(b.pendingIn),
      available: f(b.available),
      pendingIn: f(b.pendingIn),
      pendingOut: f(b.pendingOut),
      ...(asOf ? { asOf: asOf.toISOString() } : {}),
    };
  }
}
