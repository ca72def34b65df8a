import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional } from 'class-validator';

export class TrialBalanceQueryDto {
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

export class TrialBalanceDto {
  @ApiProperty({ format: 'date-time' }) asOf: string;
  @ApiProperty({ type: [TrialBalanceAccountDto] }) accounts: TrialBalanceAccountDto[];
  @ApiProperty({ type: [TrialBalanceTotalDto], description: 'Per asset; debits always equal credits' })
  totals: TrialBalanceTotalDto[];
}
