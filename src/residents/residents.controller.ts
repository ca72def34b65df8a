import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentResident, ResidentOnly } from '../auth/access.decorators';
import { ResidentPrincipal } from '../auth/domain/principal';
import { formatAmount } from '../common/money';
import { residentAccount } from '../ledger/domain/account';
import { LedgerService } from '../ledger/ledger.service';

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
}

@ApiTags('residents')
@ResidentOnly()
@Controller('v1/me')
export class ResidentsController {
  constructor(private readonly ledger: LedgerService) {}

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
    const balance = await this.ledger.balance(residentAccount(resident.residentId), 'POINTS');
    return {
      residentId: resident.residentId,
      available: formatAmount(balance.available, 0),
      pending: formatAmount(balance.pendingIn, 0),
      debt: '0',
    };
  }
}
