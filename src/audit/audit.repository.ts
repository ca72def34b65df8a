import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { PrismaService } from '../infra/database/prisma.service';

export interface JournalRow {
  id: string;
  seq: bigint;
  type: string;
  kind: string;
  pendingId: string | null;
  reversesId: string | null;
  metadata: Record<string, unknown>;
  description: string | null;
  createdAt: Date;
  postings: { account: string; asset: string; side: 'D' | 'C'; amount: Decimal; pending: boolean }[];
}

export interface StatementRow {
  postingId: bigint;
  transactionId: string;
  type: string;
  description: string | null;
  side: 'D' | 'C';
  amount: Decimal;
  createdAt: Date;
}

/** Read-only queries over the journal for auditors (they could run on a read replica). */
@Injectable()
export class AuditRepository {
  constructor(private readonly prisma: PrismaService) {}

  async searchTransactions(
    filter: { from?: Date; to?: Date; type?: string; account?: string; source?: string; partner?: string; afterSeq?: bigint },
    take: number,
  ): Promise<JournalRow[]> {
    const where: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (filter.from) where.push(Prisma.sql`t.created_at >= ${filter.from}`);
    if (filter.to) where.push(Prisma.sql`t.created_at < ${filter.to}`);
    if (filter.type) where.push(Prisma.sql`t.type = ${filter.type}`);
    if (filter.afterSeq !== undefined) where.push(Prisma.sql`t.seq > ${filter.afterSeq}`);
    if (filter.source) where.push(Prisma.sql`t.metadata->>'sourceId' = ${filter.source}`);
    if (filter.partner) {
      where.push(Prisma.sql`EXISTS (SELECT 1 FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                    WHERE p.transaction_id = t.id AND (a.code LIKE ${`partner:${filter.partner}:%`} OR a.code = ${`charity:${filter.partner}`}))`);
    }
    if (filter.account) {
      where.push(Prisma.sql`EXISTS (SELECT 1 FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
                                    WHERE p.transaction_id = t.id AND a.code = ${filter.account})`);
    }
    const rows = await this.prisma.$queryRaw<
      { id: string; seq: bigint; type: string; kind: string; pending_id: string | null; reverses_id: string | null; metadata: unknown; description: string | null; created_at: Date }[]
    >`SELECT t.id::text, t.seq, t.type, t.kind, t.pending_id::text, t.reverses_id::text, t.metadata, t.description, t.created_at
      FROM ledger_transactions t WHERE ${Prisma.join(where, ' AND ')} ORDER BY t.seq LIMIT ${take}`;
    const postings = await this.postingsOf(rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      seq: BigInt(r.seq),
      type: r.type,
      kind: r.kind,
      pendingId: r.pending_id,
      reversesId: r.reverses_id,
      metadata: (r.metadata ?? {}) as Record<string, unknown>,
      description: r.description,
      createdAt: r.created_at,
      postings: postings.get(r.id) ?? [],
    }));
  }

  private async postingsOf(ids: string[]): Promise<Map<string, JournalRow['postings']>> {
    const result = new Map<string, JournalRow['postings']>();
    if (ids.length === 0) return result;
    const rows = await this.prisma.$queryRaw<{ transaction_id: string; code: string; asset: string; side: 'D' | 'C'; amount: string; pending: boolean }[]>`
      SELECT p.transaction_id::text, a.code, p.asset, p.side, p.amount::text, p.pending
      FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
      WHERE p.transaction_id = ANY(${ids}::uuid[]) ORDER BY p.id`;
    for (const r of rows) {
      const list = result.get(r.transaction_id) ?? [];
      list.push({ account: r.code, asset: r.asset, side: r.side, amount: new Decimal(r.amount), pending: r.pending });
      result.set(r.transaction_id, list);
    }
    return result;
  }

  /** What a transaction came from: the earn event or the redemption behind it. */
  async originOf(transactionId: string): Promise<{ earnEvent?: { sourceId: string; externalId: string; status: string }; redemption?: { id: string; residentId: string; itemId: string; status: string } }> {
    const [event] = await this.prisma.$queryRaw<{ source_id: string; external_id: string; status: string }[]>`
      SELECT source_id, external_id, status FROM earn_events WHERE transaction_id = ${transactionId}::uuid LIMIT 1`;
    const [redemption] = await this.prisma.$queryRaw<{ id: string; resident_id: string; item_id: string; status: string }[]>`
      SELECT id::text, resident_id, item_id, status FROM redemptions
      WHERE transaction_id = ${transactionId}::uuid OR refund_transaction_id = ${transactionId}::uuid LIMIT 1`;
    return {
      ...(event ? { earnEvent: { sourceId: event.source_id, externalId: event.external_id, status: event.status } } : {}),
      ...(redemption ? { redemption: { id: redemption.id, residentId: redemption.resident_id, itemId: redemption.item_id, status: redemption.status } } : {}),
    };
  }

  /** An account's posted entries in (from, to], in journal order, a page at a time. */
  async statementPage(accountId: bigint, from: Date, to: Date, afterPostingId: bigint, take: number): Promise<StatementRow[]> {
    const rows = await this.prisma.$queryRaw<
      { id: bigint; transaction_id: string; type: string; description: string | null; side: 'D' | 'C'; amount: string; created_at: Date }[]
    >`SELECT p.id, p.transaction_id::text, t.type, t.description, p.side, p.amount::text, p.created_at
      FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
      WHERE p.account_id = ${accountId} AND NOT p.pending AND p.created_at > ${from} AND p.created_at <= ${to} AND p.id > ${afterPostingId}
      ORDER BY p.id LIMIT ${take}`;
    return rows.map((r) => ({
      postingId: BigInt(r.id),
      transactionId: r.transaction_id,
      type: r.type,
      description: r.description,
      side: r.side,
      amount: new Decimal(r.amount),
      createdAt: r.created_at,
    }));
  }
}
