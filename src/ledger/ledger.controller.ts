import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/access';
import { invalidInput } from '../common/errors';
import { Decimal } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { optionalMoment, UUID_PARAM } from '../common/params';
import { Idempotent } from '../idempotency/idempotent.decorator';
import { Posting } from './domain/transaction';
import {
  AccountBalanceDto,
  BalanceQueryDto,
  CreateTransactionDto,
  PostingDto,
  PostPendingDto,
  ReverseDto,
  TransactionDto,
} from './dto/ledger.dto';
import { LedgerService } from './ledger.service';

@ApiTags('ledger')
@Controller('v1/ledger')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Post('transactions')
  @Roles('admin')
  @Idempotent()
  @ApiOperation({ summary: 'Record a balanced transaction (posted, or pending with an optional expiry)' })
  @ApiCreatedResponse({ type: TransactionDto })
  @ApiProblems('validation_failed', 'insufficient_points')
  async create(@Body() body: CreateTransactionDto): Promise<TransactionDto> {
    const transaction = await this.ledger.record({
      type: body.type,
      postings: body.postings.map(toPosting),
      pending: body.pending,
      expiresAt: optionalMoment(body.expiresAt, 'expiresAt'),
      metadata: body.metadata,
      description: body.description,
    });
    return TransactionDto.of(transaction, await this.ledger.assetScales());
  }

  @Get('transactions/:id')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'A transaction with its postings and what settled or reversed it' })
  @ApiOkResponse({ type: TransactionDto })
  @ApiProblems('validation_failed', 'not_found')
  async get(@Param('id', UUID_PARAM) id: string): Promise<TransactionDto> {
    return TransactionDto.of(await this.ledger.getTransaction(id), await this.ledger.assetScales());
  }

  @Post('transactions/:id/post')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Post a pending transaction, whole or in part (the rest is released)' })
  @ApiOkResponse({ type: TransactionDto, description: 'The posting transaction' })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state')
  async post(@Param('id', UUID_PARAM) id: string, @Body() body: PostPendingDto): Promise<TransactionDto> {
    const amount = body.amount === undefined ? undefined : new Decimal(body.amount);
    return TransactionDto.of(await this.ledger.post(id, amount), await this.ledger.assetScales());
  }

  @Post('transactions/:id/void')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Void a pending transaction: the reserved amounts are released' })
  @ApiOkResponse({ type: TransactionDto, description: 'The voiding record' })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state')
  async void(@Param('id', UUID_PARAM) id: string): Promise<TransactionDto> {
    return TransactionDto.of(await this.ledger.void(id), await this.ledger.assetScales());
  }

  @Post('transactions/:id/reverse')
  @HttpCode(200)
  @Roles('admin')
  @ApiOperation({ summary: 'Reverse a posted transaction with a new one that swaps its postings (once)' })
  @ApiOkResponse({ type: TransactionDto, description: 'The reversal' })
  @ApiProblems('validation_failed', 'not_found', 'invalid_state', 'insufficient_points')
  async reverse(@Param('id', UUID_PARAM) id: string, @Body() body: ReverseDto): Promise<TransactionDto> {
    return TransactionDto.of(await this.ledger.reverse(id, body.metadata), await this.ledger.assetScales());
  }

  @Get('accounts/:account/balance')
  @Roles('admin', 'auditor')
  @ApiParam({ name: 'account', example: 'resident:anna' })
  @ApiOperation({ summary: 'An account balance now (O(1)) or as of a past moment' })
  @ApiOkResponse({ type: AccountBalanceDto })
  @ApiProblems('validation_failed')
  async balance(@Param('account') account: string, @Query() query: BalanceQueryDto): Promise<AccountBalanceDto> {
    const asOf = optionalMoment(query.asOf, 'asOf');
    const balance = await this.ledger.balance(account, query.asset, asOf);
    return AccountBalanceDto.of(balance, await this.ledger.assetScale(query.asset), asOf);
  }
}

function toPosting(p: PostingDto, i: number): Posting {
  if ((p.debit === undefined) === (p.credit === undefined)) {
    throw invalidInput(`postings[${i}]: give exactly one of debit and credit`);
  }
  return {
    account: p.account,
    asset: p.asset,
    side: p.debit !== undefined ? 'D' : 'C',
    amount: new Decimal((p.debit ?? p.credit)!),
  };
}
