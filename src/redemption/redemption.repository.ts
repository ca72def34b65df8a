import { Injectable } from '@nestjs/common';
import { CodeStatus, IssuedCode } from '../catalogue/domain/codes';
import { ItemKind } from '../catalogue/domain/item';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';
import { SQLSTATE_TOO_SLOW } from '../ledger/ledger.service';

export interface RedemptionRecord {
  id: string;
  residentId: string;
  itemId: string;
  kind: ItemKind;
  quantity: number;
  pointsSpent: Decimal;
  status: 'completed' | 'cancelled';
  transactionId: string;
  refundTransactionId: string | null;
  createdAt: Date;
  cancelledAt: Date | null;
  /** whether it took from the item's stock and counted against the resident's limit: a cancel gives back just that */
  stockCounted: boolean;
  limitCounted: boolean;
  /** the resident's available points right after it, as its answer said (null before this was kept) */
  balanceAfter: Decimal | null;
  codes: (IssuedCode & { status: CodeStatus })[];
}

/** What the one-statement redemption answered: the key's row, and for a new one the redemption as written. */
export interface OneStatementRedemption {
  outcome: 'new' | 'replay';
  requestHash: string;
  status: number | null;
  body: string | null;
  answerRef: string | null;
  redemption: { record: RedemptionRecord; balanceAfter: Decimal } | null;
}

interface RawOneStatement {
  outcome: 'new' | 'replay';
  request_hash: string;
  status: number | null;
  response: string | null;
  answer_ref: string | null;
  kind: string | null;
  points_spent: string | null;
  balance_after: string | null;
  created_at: Date | null;
  codes: string[] | null;
  valid_until: Date | null;
  stock_counted: boolean | null;
  limit_counted: boolean | null;
}

/** Raised by catalogue_redeem() when the general path must take the redemption (everything rolled back). */
const SQLSTATE_GENERAL_PATH = 'CL100';

/**
 * Redemptions, the codes they issue and the per-resident counts: the redemption capability's
 * tables (moved here from CatalogueRepository; the item's stock and pool stay the catalogue's).
 */
@Injectable()
export class RedemptionRepository {
  constructor(private readonly db: TransactionHost) {}

  /** Counts a purchase against a per-resident limit; false when it would exceed it. */
  async countForResident(residentId: string, itemId: string, quantity: number, limit: number): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<{ quantity: number }[]>`
      INSERT INTO resident_item_counts AS c (resident_id, item_id, quantity) VALUES (${residentId}, ${itemId}, ${quantity})
      ON CONFLICT (resident_id, item_id) DO UPDATE SET quantity = c.quantity + EXCLUDED.quantity
      RETURNING quantity`;
    return rows[0].quantity <= limit;
  }

  async uncountForResident(residentId: string, itemId: string, quantity: number): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE resident_item_counts SET quantity = greatest(0, quantity - ${quantity}) WHERE resident_id = ${residentId} AND item_id = ${itemId}`;
  }

  /**
   * Records a redemption and gives it its codes in one statement: `generated` codes are inserted
   * as issued; otherwise `quantity` codes are taken from the item's pool, skipping rows another
   * redemption is taking (concurrent redemptions of a popular item never queue on each other).
   * Returns the codes it got (fewer than asked when the pool ran dry) and the creation time.
   */
  async createRedemption(
    r: Omit<RedemptionRecord, 'codes' | 'createdAt' | 'cancelledAt' | 'refundTransactionId' | 'balanceAfter'> & {
      balanceAfter: Decimal | null;
    },
    codes: { generated: string[] } | { pool: number } | null,
    validUntil: Date | null,
  ): Promise<{ createdAt: Date; codes: IssuedCode[] }> {
    const insert = Prisma.sql`
      INSERT INTO redemptions (id, resident_id, item_id, kind, quantity, points_spent, status, transaction_id, stock_counted, limit_counted, balance_after)
      VALUES (${r.id}::uuid, ${r.residentId}, ${r.itemId}, ${r.kind}, ${r.quantity}, ${r.pointsSpent.toFixed()}::numeric, ${r.status},
              ${r.transactionId}::uuid, ${r.stockCounted}, ${r.limitCounted}, ${r.balanceAfter?.toFixed() ?? null}::numeric)
      RETURNING id, created_at`;
    type Row = { created_at: Date; code: string | null; valid_until: Date | null };
    let rows: Row[];
    if (codes === null) {
      rows = await this.db.client.$queryRaw<
        Row[]
      >`WITH r AS (${insert}) SELECT r.created_at, NULL::text AS code, NULL::timestamptz AS valid_until FROM r`;
    } else if ('generated' in codes) {
      rows = await this.db.client.$queryRaw<Row[]>`
        WITH r AS (${insert}), c AS (
          INSERT INTO item_codes (item_id, code, status, redemption_id, valid_until, issued_at)
          SELECT ${r.itemId}, g, 'issued', (SELECT id FROM r), ${validUntil}, now() FROM unnest(${codes.generated}::text[]) AS g
          RETURNING code, valid_until)
        SELECT r.created_at, c.code, c.valid_until FROM r LEFT JOIN c ON true`;
    } else {
      rows = await this.db.client.$queryRaw<Row[]>`
        WITH r AS (${insert}), c AS (
          UPDATE item_codes SET status = 'issued', redemption_id = (SELECT id FROM r), valid_until = ${validUntil}, issued_at = now()
          WHERE id IN (
            SELECT id FROM item_codes WHERE item_id = ${r.itemId} AND status = 'available'
            ORDER BY id LIMIT ${codes.pool} FOR UPDATE SKIP LOCKED)
          RETURNING code, valid_until)
        SELECT r.created_at, c.code, c.valid_until FROM r LEFT JOIN c ON true`;
    }
    return {
      createdAt: rows[0].created_at,
      codes: rows.filter((row) => row.code !== null).map((row) => ({ code: row.code!, validUntil: row.valid_until })),
    };
  }

  /**
   * A whole redemption under an idempotency key in one statement (catalogue_redeem): the key,
   * the resident's count, the points (through the ledger's door, ledger_record), the
   * redemption, its codes and the stock; the key's answer is stored as a reference to the
   * redemption. Null when it rolled back for the general path (a refusal, or something not set
   * up yet); the key's row when the key was used before; else the redemption as written.
   */
  async redeemInOneStatement(r: {
    scope: string;
    key: string;
    hash: string;
    redemptionId: string;
    transactionId: string;
    residentId: string;
    residentAccountId: bigint;
    itemId: string;
    quantity: number;
    generatedCodes: string[];
  }): Promise<OneStatementRedemption | null> {
    try {
      const [row] = await this.db.statement<RawOneStatement>(
        'catalogue_redeem',
        `SELECT outcome, request_hash, status, response, answer_ref, kind, points_spent::text, balance_after::text, created_at, codes, valid_until,
                stock_counted, limit_counted
         FROM catalogue_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          r.scope,
          r.key,
          r.hash,
          r.redemptionId,
          r.transactionId,
          r.residentId,
          r.residentAccountId.toString(),
          r.itemId,
          r.quantity,
          r.generatedCodes,
        ],
      );
      const key = { requestHash: row.request_hash, status: row.status, body: row.response, answerRef: row.answer_ref };
      if (row.outcome === 'replay') return { outcome: 'replay', ...key, redemption: null };
      return {
        outcome: 'new',
        ...key,
        redemption: {
          record: {
            id: r.redemptionId,
            residentId: r.residentId,
            itemId: r.itemId,
            kind: row.kind as ItemKind,
            quantity: r.quantity,
            pointsSpent: new Decimal(row.points_spent!),
            status: 'completed',
            transactionId: r.transactionId,
            refundTransactionId: null,
            createdAt: row.created_at!,
            cancelledAt: null,
            stockCounted: row.stock_counted!,
            limitCounted: row.limit_counted!,
            balanceAfter: new Decimal(row.balance_after!),
            codes: row.codes!.map((code) => ({ code, validUntil: row.valid_until, status: 'issued' as const })),
          },
          balanceAfter: new Decimal(row.balance_after!),
        },
      };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // the door past its bound wrote nothing either: the general path tries again (and answers 503 if it is slow too)
      if (code === SQLSTATE_GENERAL_PATH || code === SQLSTATE_TOO_SLOW) return null;
      throw error;
    }
  }

  async findRedemption(id: string, lock = false): Promise<RedemptionRecord | null> {
    if (lock) await this.db.client.$queryRaw`SELECT 1 FROM redemptions WHERE id = ${id}::uuid FOR UPDATE`;
    const row = await this.db.client.redemption.findUnique({ where: { id }, include: { codes: { orderBy: { id: 'asc' } } } });
    return row && toRedemption(row);
  }

  async listRedemptions(
    residentId: string,
    before: { createdAt: Date; id: string } | undefined,
    take: number,
  ): Promise<RedemptionRecord[]> {
    const rows = await this.db.client.redemption.findMany({
      where: {
        residentId,
        ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
      },
      include: { codes: { orderBy: { id: 'asc' } } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take,
    });
    return rows.map(toRedemption);
  }

  /** Locks a redemption's codes (a partner redeeming one at this moment waits) and returns their statuses. */
  async lockCodesOf(redemptionId: string): Promise<CodeStatus[]> {
    const rows = await this.db.client.$queryRaw<{ status: CodeStatus }[]>`
      SELECT status FROM item_codes WHERE redemption_id = ${redemptionId}::uuid ORDER BY id FOR UPDATE`;
    return rows.map((r) => r.status);
  }

  async markCancelled(id: string, refundTransactionId: string): Promise<void> {
    await this.db.client.redemption.update({ where: { id }, data: { status: 'cancelled', refundTransactionId, cancelledAt: new Date() } });
    await this.db.client.itemCode.updateMany({ where: { redemptionId: id, status: 'issued' }, data: { status: 'cancelled' } });
  }

  /** How many of each item a resident holds against its per-resident limit. */
  async residentCounts(residentId: string, itemIds: string[]): Promise<Map<string, number>> {
    if (itemIds.length === 0) return new Map();
    const rows = await this.db.client.residentItemCount.findMany({ where: { residentId, itemId: { in: itemIds } } });
    return new Map(rows.map((r) => [r.itemId, r.quantity]));
  }
}

type Dec = Prisma.Decimal;
const decOrNull = (v: Dec | null) => (v === null ? null : new Decimal(v.toString()));

function toRedemption(r: {
  id: string;
  residentId: string;
  itemId: string;
  kind: string;
  quantity: number;
  pointsSpent: Dec;
  status: string;
  transactionId: string;
  refundTransactionId: string | null;
  createdAt: Date;
  cancelledAt: Date | null;
  stockCounted: boolean;
  limitCounted: boolean;
  balanceAfter: Dec | null;
  codes: { code: string; validUntil: Date | null; status: string }[];
}): RedemptionRecord {
  return {
    ...r,
    kind: r.kind as ItemKind,
    pointsSpent: new Decimal(r.pointsSpent.toString()),
    balanceAfter: decOrNull(r.balanceAfter),
    status: r.status as RedemptionRecord['status'],
    codes: r.codes.map((c) => ({ code: c.code, validUntil: c.validUntil, status: c.status as CodeStatus })),
  };
}
