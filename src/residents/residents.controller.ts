import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentResident, ResidentOnly } from '../common/access';
import { ResidentPrincipal } from '../common/principal';
import { formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { residentAccount } from '../ledger/domain/account';
import { ExpiringPointsDto } from '../ledger/dto/expiry.dto';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { residentDescription } from './history-description';

export class ResidentDto {
  @ApiProperty({ example: 'anna' }) residentId: string;
}

export class ResidentBalanceDto {
  @ApiProperty({ example: 'anna' }) residentId: string;
  @ApiProperty({ example: '150', description: 'Points that can be spent now' }) available: string;
  @ApiProperty({ example: '50', description: 'Points on their way (awaiting confirmation), not yet spendable' })
  pending: string;
  @ApiProperty({ example: '0', description: 'Points owed after a revoked accrual; later earnings pay it off first' })
  debt: string;
  @ApiProperty({ type: [ExpiringPointsDto], description: 'The next 3 dates on which points expire, soonest first' })
  expiring: ExpiringPointsDto[];
}

export class ExpiringListDto {
  @ApiProperty({ type: [ExpiringPointsDto], description: 'Every future date on which points expire, soonest first' })
  items: ExpiringPointsDto[];
}

export class HistoryEntryDto {
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty({ example: 'earn' }) type: string;
  @ApiProperty({ example: '20', description: 'Negative when points left the balance' }) amount: string;
  @ApiProperty({ type: String, nullable: true, example: '220' }) balanceAfter: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'Vote in poll 123' }) description: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class HistoryPageDto {
  @ApiProperty({ type: [HistoryEntryDto] }) items: HistoryEntryDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

@ApiTags('residents')
@ResidentOnly()
@Controller('v1/me')
export class ResidentsController {
  constructor(private readonly ledger: LedgerReadService) {}

  @Get()
  @ApiOperation({ summary: 'The signed-in resident (checks a token)' })
  @ApiOkResponse({ type: ResidentDto })
  me(@CurrentResident() resident: ResidentPrincipal): ResidentDto {
    return { residentId: resident.residentId };
  }

  @Get('balance')
  @ApiOperation({ summary: 'My points: available, pending and debt' })
  @ApiOkResponse({ type: ResidentBalanceDto })
  async balance(@CurrentResident() resident: ResidentPrincipal): Promise<ResidentBalanceDto> {
    const [balance, expiring] = await Promise.all([
      this.ledger.residentBalance(resident.residentId),
      this.ledger.residentExpiring(resident.residentId, 3),
    ]);
    return {
      residentId: balance.residentId,
      available: formatAmount(balance.available, 0),
      pending: formatAmount(balance.pending, 0),
      debt: formatAmount(balance.debt, 0),
      expiring: expiring.map(ExpiringPointsDto.of),
    };
  }

  @Get('expiring')
  @ApiOperation({ summary: 'When my points expire: every future date with its amount, soonest first' })
  @ApiOkResponse({ type: ExpiringListDto })
  async expiring(@CurrentResident() resident: ResidentPrincipal): Promise<ExpiringListDto> {
    return { items: (await this.ledger.residentExpiring(resident.residentId)).map(ExpiringPointsDto.of) };
  }

  @Get('history')
  @ApiOperation({ summary: 'My points history, newest first' })
  @ApiOkResponse({ type: HistoryPageDto })
  @ApiProblems('validation_failed')
  async history(@CurrentResident() resident: ResidentPrincipal, @Query() query: PageQueryDto): Promise<HistoryPageDto> {
    const page = await this.ledger.history(residentAccount(resident.residentId), 'POINTS', query.limit, query.cursor);
    return {
      items: page.items.map((e) => ({
        transactionId: e.transactionId,
        type: e.type,
        amount: formatAmount(e.amount, 0),
        balanceAfter: e.balanceAfter ? formatAmount(e.balanceAfter, 0) : null,
        description: residentDescription(e),
        createdAt: e.createdAt.toISOString(),
      })),
      nextCursor: page.nextCursor,
    };
  }
}
