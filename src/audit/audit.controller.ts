import { writeStatement } from './statement-writer';
import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiProperty, ApiPropertyOptional, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Roles } from '../common/access';
import { SLUG_ID } from '../common/identifiers';
import { invalidInput, notFound } from '../common/errors';
import { formatAmount } from '../common/money';
import { ApiProblems } from '../common/openapi';
import { IsISO8601, IsOptional, Matches } from 'class-validator';
import { decodeCursor, encodeCursor, PageQueryDto } from '../common/pagination';
import { optionalMoment, UUID_PARAM } from '../common/params';
import { TransactionDto, TRANSACTION_TYPE } from '../ledger/dto/ledger.dto';
import { JournalRow } from '../ledger/ledger-read.service';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService } from '../ledger/ledger.service';
import { AuditService } from './audit.service';
import { Seal, SealService } from './seal.service';

export class JournalPostingDto {
  @ApiProperty() account: string;
  @ApiProperty() asset: string;
  @ApiPropertyOptional() debit?: string;
  @ApiPropertyOptional() credit?: string;
  @ApiProperty({ description: 'A reservation of a pending transaction, not part of posted balances' }) pending: boolean;
}

export class JournalEntryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: '1042', description: 'Position in the journal' }) seq: string;
  @ApiProperty() type: string;
  @ApiProperty({ enum: ['posted', 'pending', 'void'] }) kind: string;
  @ApiProperty({ type: String, nullable: true }) pendingId: string | null;
  @ApiProperty({ type: String, nullable: true }) reversesId: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: [JournalPostingDto] }) postings: JournalPostingDto[];
}

export class JournalPageDto {
  @ApiProperty({ type: [JournalEntryDto] }) items: JournalEntryDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class TracedTransactionDto extends TransactionDto {
  @ApiPropertyOptional({ description: 'The earn event behind this transaction' }) earnEvent?: {
    sourceId: string;
    externalId: string;
    status: string;
  };
  @ApiPropertyOptional({ description: 'The redemption or donation behind this transaction' }) redemption?: {
    id: string;
    residentId: string;
    itemId: string;
    status: string;
  };
}

export class StatementEntryDto {
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty() type: string;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiPropertyOptional() debit?: string;
  @ApiPropertyOptional() credit?: string;
  @ApiProperty({ description: 'Balance after the entry, in the account’s normal direction' }) balance: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class StatementDto {
  @ApiProperty() account: string;
  @ApiProperty() asset: string;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ example: '100' }) openingBalance: string;
  @ApiProperty({ type: [StatementEntryDto] }) entries: StatementEntryDto[];
  @ApiProperty({ example: '250' }) closingBalance: string;
}

export class TransactionSearchDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) to?: string;
  @ApiPropertyOptional({ example: 'earn' })
  @IsOptional()
  @Matches(TRANSACTION_TYPE, { message: 'type is not a transaction type' })
  type?: string;
  @ApiPropertyOptional({ example: 'resident:anna' })
  @IsOptional()
  @Matches(/^[\x21-\x7e]{3,200}$/, { message: 'account is not an account code' })
  account?: string;
  @ApiPropertyOptional({ example: 'active-citizen', description: 'Accruals from this participation service' })
  @IsOptional()
  @Matches(SLUG_ID, { message: 'source is not a source id' })
  source?: string;
  @ApiPropertyOptional({ example: 'coffee-chain', description: 'Transactions that moved points to or from this partner or fund' })
  @IsOptional()
  @Matches(SLUG_ID, { message: 'partner is not a partner id' })
  partner?: string;
}

export class SealDto {
  @ApiProperty({ example: '12' }) id: string;
  @ApiProperty({ format: 'date-time' }) coversFrom: string;
  @ApiProperty({ format: 'date-time' }) coversTo: string;
  @ApiProperty() transactions: number;
  @ApiProperty() merkleRoot: string;
  @ApiProperty() previousHash: string;
  @ApiProperty() hash: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class SealPageDto {
  @ApiProperty({ type: [SealDto] }) items: SealDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class ProofStepDto {
  @ApiProperty() hash: string;
  @ApiProperty({ enum: ['left', 'right'] }) position: 'left' | 'right';
}

export class ProofDto {
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty({ description: 'The canonical content that was hashed' }) canonical: string;
  @ApiProperty({ description: 'sha256 of canonical, hex' }) transactionHash: string;
  @ApiProperty({ type: SealDto }) seal: SealDto;
  @ApiProperty({ type: [ProofStepDto], description: 'Siblings from the leaf up to the seal’s Merkle root' }) proof: ProofStepDto[];
}

function sealDto(s: Seal): SealDto {
  return {
    id: s.id.toString(),
    coversFrom: s.coversFrom.toISOString(),
    coversTo: s.coversTo.toISOString(),
    transactions: s.transactions,
    merkleRoot: s.merkleRoot,
    previousHash: s.previousHash,
    hash: s.hash,
    createdAt: s.createdAt.toISOString(),
  };
}

@ApiTags('audit')
@Roles('auditor', 'admin')
@Controller('v1/audit')
export class AuditController {
  constructor(
    private readonly audit: AuditService,
    private readonly ledger: LedgerService,
    private readonly reads: LedgerReadService,
    private readonly seals: SealService,
  ) {}

  @Get('seals')
  @ApiOperation({ summary: 'The journal’s seals, newest first: each chains a window of transactions to the seal before' })
  @ApiOkResponse({ type: SealPageDto })
  @ApiProblems('validation_failed')
  async listSeals(@Query() query: PageQueryDto): Promise<SealPageDto> {
    const page = await this.seals.list(query.limit, query.cursor);
    return { items: page.items.map(sealDto), nextCursor: page.nextCursor };
  }

  @Get('transactions/:id/proof')
  @ApiOperation({ summary: 'Everything needed to verify a transaction against its seal offline (docs/audit.md)' })
  @ApiOkResponse({ type: ProofDto })
  @ApiProblems('validation_failed', 'not_found')
  async proof(@Param('id', UUID_PARAM) id: string): Promise<ProofDto> {
    const p = await this.seals.proof(id);
    return {
      transactionId: p.transactionId,
      canonical: p.canonical,
      transactionHash: p.transactionHash,
      seal: sealDto(p.seal),
      proof: p.proof,
    };
  }

  @Get('transactions')
  @ApiOperation({ summary: 'Search the journal, in journal order' })
  @ApiOkResponse({ type: JournalPageDto })
  @ApiProblems('validation_failed')
  async search(@Query() q: TransactionSearchDto): Promise<JournalPageDto> {
    const after = decodeCursor<{ s: string }>(q.cursor, ['s']);
    if (after && !/^\d{1,19}$/.test(after.s)) throw invalidInput('cursor is not one this service issued');
    const rows = await this.reads.searchJournal(
      {
        from: optionalMoment(q.from, 'from'),
        to: optionalMoment(q.to, 'to'),
        type: q.type,
        account: q.account,
        source: q.source,
        partner: q.partner,
        afterSeq: after ? BigInt(after.s) : undefined,
      },
      q.limit + 1,
    );
    const scales = await this.ledger.assetScales();
    const items = rows.slice(0, q.limit).map((r) => journalDto(r, scales));
    return { items, nextCursor: rows.length > q.limit ? encodeCursor({ s: rows[q.limit - 1].seq.toString() }) : null };
  }

  @Get('transactions/:id')
  @ApiOperation({ summary: 'A transaction with its postings and the earn event or redemption behind it' })
  @ApiOkResponse({ type: TracedTransactionDto })
  @ApiProblems('validation_failed', 'not_found')
  async transaction(@Param('id', UUID_PARAM) id: string): Promise<TracedTransactionDto> {
    const transaction = await this.ledger.getTransaction(id);
    return { ...TransactionDto.of(transaction, await this.ledger.assetScales()), ...(await this.audit.originOf(id)) };
  }

  @Get('accounts/:account/statement')
  @ApiOperation({ summary: 'An account statement: opening balance, entries, closing balance; CSV with Accept: text/csv' })
  @ApiParam({ name: 'account', example: 'resident:anna' })
  @ApiQuery({ name: 'from', required: false, description: 'exclusive; without it the statement starts at the account’s first entry' })
  @ApiQuery({ name: 'to', required: false })
  @ApiQuery({ name: 'asset', required: false })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({ type: StatementDto })
  @ApiProblems('validation_failed', 'not_found')
  async statement(
    @Param('account') account: string,
    @Req() req: Request,
    @Res() res: Response,
    @Query('from') fromText?: string,
    @Query('to') toText?: string,
    @Query('asset') asset = 'POINTS',
  ): Promise<void> {
    const from = optionalMoment(fromText, 'from');
    const to = optionalMoment(toText, 'to') ?? new Date();
    if (from && to <= from) throw invalidInput('to must be after from');
    // an account the ledger never had is not an account with no activity (an auditor would read 0 as "nothing happened")
    if (!(await this.ledger.accountRef(account, asset))) throw notFound(`account ${account} (${asset})`);
    const csv = (req.headers.accept ?? '').includes('text/csv');
    if (csv) {
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="statement-${account.replace(/[^A-Za-z0-9_-]/g, '_')}.csv"`);
    } else {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
    }
    // streamed a page of postings at a time, JSON or CSV alike
    await writeStatement(this.ledger, this.reads, { account, asset, from, to, csv, unknownAccount: 'not_found' }, res);
    res.end();
  }
}

function journalDto(r: JournalRow, scales: ReadonlyMap<string, number>): JournalEntryDto {
  return {
    id: r.id,
    seq: r.seq.toString(),
    type: r.type,
    kind: r.kind,
    pendingId: r.pendingId,
    reversesId: r.reversesId,
    metadata: r.metadata,
    description: r.description,
    createdAt: r.createdAt.toISOString(),
    postings: r.postings.map((p) => {
      const amount = formatAmount(p.amount, scales.get(p.asset) ?? 0);
      return { account: p.account, asset: p.asset, pending: p.pending, ...(p.side === 'D' ? { debit: amount } : { credit: amount }) };
    }),
  };
}
