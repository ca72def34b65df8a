import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentClient, Roles } from '../common/access';
import { actorOf, ClientPrincipal } from '../common/principal';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment } from '../common/params';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { AdjustmentsService } from './adjustments.service';
import { CreateAdjustmentDto } from './dto/adjustment.dto';
import { TransactionDto } from './dto/ledger.dto';
import { LedgerService } from './ledger.service';

@ApiTags('admin')
@Roles('admin')
@Controller('v1/admin/adjustments')
export class AdjustmentsController {
  constructor(
    private readonly adjustments: AdjustmentsService,
    private readonly ledger: LedgerService,
  ) {}

  @Post()
  @Idempotent()
  @ApiOperation({ summary: "Adjust a resident's points by hand, with a reason (never below zero)" })
  @ApiCreatedResponse({ type: TransactionDto })
  @ApiProblems('validation_failed', 'insufficient_points')
  async create(@CurrentClient() admin: ClientPrincipal, @Body() body: CreateAdjustmentDto): Promise<TransactionDto> {
    const transaction = await this.adjustments.adjust(
      actorOf(admin),
      body.residentId,
      new Decimal(body.amount),
      body.reason,
      optionalMoment(body.expiresAt, 'expiresAt'),
    );
    return TransactionDto.of(transaction, await this.ledger.assetScales());
  }
}
