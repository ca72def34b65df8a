import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';
import { CatalogueItem, CodeSource, ItemKind } from './domain/item';

export type CodeStatus = 'available' | 'issued' | 'redeemed' | 'cancelled';

export interface IssuedCode {
  code: string;
  validUntil: Date | null;
}

export interface CodeRecord {
  code: string;
  status: CodeStatus;
  itemId: string;
  partnerId: string;
  validUntil: Date | null;
  redeemedAt: Date | null;
  redemptionId: string | null;
}

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
  codes: (IssuedCode & { status: CodeStatus })[];
}

/** Raised by catalogue_redeem() when the general path must take the redemption (everything rolled back). */
const SQLSTATE_GENERAL_PATH = 'CL100';

/** How long the public catalogue may show a pool's available count as it was. */
const POOL_COUNT_CACHE_MS = 2_000;

/** Items, their codes, redemptions and per-resident counts: the catalogue's tables. */
@Injectable()
export class CatalogueRepository {
  private readonly poolCounts = new Map<string, { n: number; at: number }>();

  constructor(private readonly db: TransactionHost) {}

  async createItem(item: Omit<CatalogueItem, 'sold'>): Promise<CatalogueItem> {
    return toItem(await this.db.client.catalogueItem.create({ data: item }));
  }

  async updateItem(id: string, changes: Partial<Omit<CatalogueItem, 'id' | 'sold' | 'kind'>>): Promise<CatalogueItem> {
    return toItem(await this.db.client.catalogueItem.update({ where: { id }, data: { ...changes, updatedAt: new Date() } }));
  }

  async findItem(id: string): Promise<CatalogueItem | null> {
    const row = await this.db.client.catalogueItem.findUnique({ where: { id } });
    return row && toItem(row);
  }

  async listItems(filter: { afterId?: string; activeAt?: Date; categoryId?: string }, take: number): Promise<CatalogueItem[]> {
    const at = filter.activeAt;
    const rows = await this.db.client.catalogueItem.findMany({
      where: {
        ...(filter.afterId ? { id: { gt: filter.afterId } } : {}),
        ...(filter.categoryId ? { categoryId: filter.categoryId } : {}),
        ...(at
          ? { AND: [{ OR: [{ activeFrom: null }, { activeFrom: { lte: at } }] }, { OR: [{ activeTo: null }, { activeTo: { gt: at } }] }] }
          : {}),
      },
      orderBy: { id: 'asc' },
      take,
    });
    return rows.map(toItem);
  }

  /**
   * How many codes of each pool item are still available, as counted at most a couple of
   * seconds ago: the public catalogue is read by everyone, and counting a large pool on every
   * read would let anyone load the database. Redemptions never rely on this count.
   */
  async poolAvailable(itemIds: string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const counts = new Map<string, number>();
    const missing: string[] = [];
    for (const id of itemIds) {
      const hit = this.poolCounts.get(id);
      if (hit && now - hit.at < POOL_COUNT_CACHE_MS) counts.set(id, hit.n);
      else missing.push(id);
    }
    if (missing.length === 0) return counts;
    const rows = await this.db.client.$queryRaw<{ item_id: string; n: number }[]>`
      SELECT item_id, count(*)::int AS n FROM item_codes WHERE status = 'available' AND item_id = ANY(${missing}::text[]) GROUP BY item_id`;
    const found = new Map(rows.map((r) => [r.item_id, r.n]));
    for (const id of missing) {
      counts.set(id, found.get(id) ?? 0);
      this.poolCounts.set(id, { n: found.get(id) ?? 0, at: now });
    }
    if (this.poolCounts.size > 10_000) this.poolCounts.clear();
    return counts;
  }

  /** Forgets the counted pool of an item (its codes changed here). */
  forgetPoolCount(itemId: string): void {
    this.poolCounts.delete(itemId);
  }

  /**
   * Uploads of one partner wait for each other (until the transaction ends), so that a code is
   * never in two of its items at once.
   */
  async lockPartnerCodes(partnerId: string): Promise<void> {
    await this.db.client.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`item_codes:${partnerId}`}, 0))`;
  }

  /**
   * Adds codes to a pool; returns how many were new. A code already in this item, or in another
   * item of the same partner, is skipped. Another partner's codes are not looked at: codes are
   * unique per item, and nothing an upload answers tells one partner of another's codes.
   */
  async addCodes(itemId: string, partnerId: string, codes: string[]): Promise<number> {
    if (codes.length === 0) return 0;
    this.forgetPoolCount(itemId);
    return this.db.client.$executeRaw`
      INSERT INTO item_codes (item_id, code, status)
      SELECT ${itemId}, c, 'available' FROM unnest(${codes}::text[]) AS c
      WHERE NOT EXISTS (
        SELECT 1 FROM item_codes o JOIN catalogue_items i ON i.id = o.item_id
        WHERE o.code = c AND i.partner_id = ${partnerId})
      ON CONFLICT (item_id, code) DO NOTHING`;
  }

  /** Counts a sale against a limited stock; false when it would exceed the stock. */
  async takeStock(itemId: string, quantity: number): Promise<boolean> {
    const n = await this.db.client.$executeRaw`
      UPDATE catalogue_items SET sold = sold + ${quantity} WHERE id = ${itemId} AND (stock IS NULL OR sold + ${quantity} <= stock)`;
    return n === 1;
  }

  /**
   * Gives a cancelled sale back to the stock. Never below zero: a redemption from before sales
   * were recorded per redemption may be marked as counted from what the item says now.
   */
  async returnStock(itemId: string, quantity: number): Promise<void> {
    await this.db.client.$executeRaw`UPDATE catalogue_items SET sold = greatest(0, sold - ${quantity}) WHERE id = ${itemId}`;
  }

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
    r: Omit<RedemptionRecord, 'codes' | 'createdAt' | 'cancelledAt' | 'refundTransactionId'>,
    codes: { generated: string[] } | { pool: number } | null,
    validUntil: Date | null,
  ): Promise<{ createdAt: Date; codes: IssuedCode[] }> {
    if (codes !== null && 'pool' in codes) this.forgetPoolCount(r.itemId);
    const insert = Prisma.sql`
      INSERT INTO redemptions (id, resident_id, item_id, kind, quantity, points_spent, status, transaction_id, stock_counted, limit_counted)
      VALUES (${r.id}::uuid, ${r.residentId}, ${r.itemId}, ${r.kind}, ${r.quantity}, ${r.pointsSpent.toFixed()}::numeric, ${r.status},
              ${r.transactionId}::uuid, ${r.stockCounted}, ${r.limitCounted})
      RETURNING id, created_at`;
    type Row = { created_at: Date; code: string | null; valid_until: Date | null };
    let rows: Row[];
    if (codes === null) {
      rows = (await this.db.client.$queryRaw<Row[]>`WITH r AS (${insert}) SELECT r.created_at, NULL::text AS code, NULL::timestamptz AS valid_until FROM r`);
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
   * the resident's count, the points, the redemption, its codes, the stock and the stored answer.
   * Null when it rolled back for the general path (a refusal, or something not set up yet);
   * the key's row when the key was used before.
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
  }): Promise<{ outcome: 'new' | 'replay'; requestHash: string; status: number | null; body: unknown } | null> {
    this.forgetPoolCount(r.itemId);
    try {
      const [row] = await this.db.statement<{ outcome: 'new' | 'replay'; request_hash: string; status: number | null; response: unknown }>(
        'catalogue_redeem',
        'SELECT outcome, request_hash, status, response FROM catalogue_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        [r.scope, r.key, r.hash, r.redemptionId, r.transactionId, r.residentId, r.residentAccountId.toString(), r.itemId, r.quantity, r.generatedCodes],
      );
      return { outcome: row.outcome, requestHash: row.request_hash, status: row.status, body: row.response };
    } catch (error) {
      if ((error as { code?: unknown }).code === SQLSTATE_GENERAL_PATH) return null;
      throw error;
    }
  }

  async findRedemption(id: string, lock = false): Promise<RedemptionRecord | null> {
    if (lock) await this.db.client.$queryRaw`SELECT 1 FROM redemptions WHERE id = ${id}::uuid FOR UPDATE`;
    const row = await this.db.client.redemption.findUnique({ where: { id }, include: { codes: { orderBy: { id: 'asc' } } } });
    return row && toRedemption(row);
  }

  async listRedemptions(residentId: string, before: { createdAt: Date; id: string } | undefined, take: number): Promise<RedemptionRecord[]> {
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

  /** A code of this partner's items (codes are unique per item; a partner's, per partner). */
  async findCode(code: string, partnerId: string): Promise<CodeRecord | null> {
    const rows = await this.db.read<{
      code: string;
      status: CodeStatus;
      item_id: string;
      valid_until: Date | null;
      redeemed_at: Date | null;
      redemption_id: string | null;
    }>(
      'partner_find_code',
      `SELECT c.code, c.status, c.item_id, c.valid_until, c.redeemed_at, c.redemption_id::text
       FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id WHERE c.code = $1 AND i.partner_id = $2
       ORDER BY c.id LIMIT 1`,
      [code, partnerId],
    );
    const r = rows[0];
    return r
      ? { code: r.code, status: r.status, itemId: r.item_id, partnerId, validUntil: r.valid_until, redeemedAt: r.redeemed_at, redemptionId: r.redemption_id }
      : null;
  }

  /** Marks an issued, unexpired code of this partner redeemed: one winner among any number of racers. */
  async redeemCode(code: string, partnerId: string, now: Date): Promise<Date | null> {
    const rows = await this.db.client.$queryRaw<{ redeemed_at: Date }[]>`
      UPDATE item_codes c SET status = 'redeemed', redeemed_at = ${now}
      FROM catalogue_items i
      WHERE c.code = ${code} AND i.id = c.item_id AND i.partner_id = ${partnerId}
        AND c.status = 'issued' AND (c.valid_until IS NULL OR c.valid_until > ${now})
      RETURNING c.redeemed_at`;
    return rows[0]?.redeemed_at ?? null;
  }

  /** Redeemed codes per item of a partner in [from, to), with the points they stand for. */
  async settlement(partnerId: string, from: Date, to: Date): Promise<{ itemId: string; title: string; codes: number; points: Decimal }[]> {
    const rows = await this.db.client.$queryRaw<{ item_id: string; title: string; codes: number; points: string }[]>`
      SELECT i.id AS item_id, i.title, count(*)::int AS codes,
             coalesce(sum(r.points_spent / r.quantity), 0)::text AS points
      FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id JOIN redemptions r ON r.id = c.redemption_id
      WHERE i.partner_id = ${partnerId} AND c.status = 'redeemed' AND c.redeemed_at >= ${from} AND c.redeemed_at < ${to}
      GROUP BY i.id, i.title ORDER BY i.id`;
    return rows.map((r) => ({ itemId: r.item_id, title: r.title, codes: r.codes, points: new Decimal(r.points) }));
  }

  async findItems(ids: string[]): Promise<CatalogueItem[]> {
    if (ids.length === 0) return [];
    return (await this.db.client.catalogueItem.findMany({ where: { id: { in: ids } } })).map(toItem);
  }

  /** How many of each item a resident holds against its per-resident limit. */
  async residentCounts(residentId: string, itemIds: string[]): Promise<Map<string, number>> {
    if (itemIds.length === 0) return new Map();
    const rows = await this.db.client.residentItemCount.findMany({ where: { residentId, itemId: { in: itemIds } } });
    return new Map(rows.map((r) => [r.itemId, r.quantity]));
  }

  /** The codes of a partner's items redeemed in [from, to), newest first. */
  async redeemedCodes(partnerId: string, from: Date, to: Date, take: number): Promise<{ code: string; itemId: string; title: string; redeemedAt: Date }[]> {
    const rows = await this.db.client.$queryRaw<{ code: string; item_id: string; title: string; redeemed_at: Date }[]>`
      SELECT c.code, c.item_id, i.title, c.redeemed_at
      FROM item_codes c JOIN catalogue_items i ON i.id = c.item_id
      WHERE i.partner_id = ${partnerId} AND c.status = 'redeemed' AND c.redeemed_at >= ${from} AND c.redeemed_at < ${to}
      ORDER BY c.redeemed_at DESC, c.id DESC LIMIT ${take}`;
    return rows.map((r) => ({ code: r.code, itemId: r.item_id, title: r.title, redeemedAt: r.redeemed_at }));
  }

  /** Donations to a charity fund in [from, to), per item. */
  async donations(partnerId: string, from: Date, to: Date): Promise<{ itemId: string; title: string; donations: number; points: Decimal }[]> {
    const rows = await this.db.client.$queryRaw<{ item_id: string; title: string; n: number; points: string }[]>`
      SELECT i.id AS item_id, i.title, count(*)::int AS n, coalesce(sum(r.points_spent), 0)::text AS points
      FROM redemptions r JOIN catalogue_items i ON i.id = r.item_id
      WHERE i.partner_id = ${partnerId} AND r.kind = 'DONATION' AND r.status = 'completed'
        AND r.created_at >= ${from} AND r.created_at < ${to}
      GROUP BY i.id, i.title ORDER BY i.id`;
    return rows.map((r) => ({ itemId: r.item_id, title: r.title, donations: r.n, points: new Decimal(r.points) }));
  }
}

type Dec = Prisma.Decimal;
const decOrNull = (v: Dec | null) => (v === null ? null : new Decimal(v.toString()));

function toItem(r: {
  id: string;
  kind: string;
  title: string;
  partnerId: string;
  pricePoints: Dec | null;
  stock: number | null;
  sold: number;
  perResidentLimit: number | null;
  codeSource: string | null;
  codeValidDays: number | null;
  cancelWindowHours: number;
  activeFrom: Date | null;
  activeTo: Date | null;
  minPoints: Dec | null;
  maxPoints: Dec | null;
  categoryId: string | null;
}): CatalogueItem {
  return {
    id: r.id,
    kind: r.kind as ItemKind,
    title: r.title,
    partnerId: r.partnerId,
    pricePoints: decOrNull(r.pricePoints),
    stock: r.stock,
    sold: r.sold,
    perResidentLimit: r.perResidentLimit,
    codeSource: r.codeSource as CodeSource | null,
    codeValidDays: r.codeValidDays,
    cancelWindowHours: r.cancelWindowHours,
    activeFrom: r.activeFrom,
    activeTo: r.activeTo,
    minPoints: decOrNull(r.minPoints),
    maxPoints: decOrNull(r.maxPoints),
    categoryId: r.categoryId,
  };
}

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
  codes: { code: string; validUntil: Date | null; status: string }[];
}): RedemptionRecord {
  return {
    ...r,
    kind: r.kind as ItemKind,
    pointsSpent: new Decimal(r.pointsSpent.toString()),
    status: r.status as RedemptionRecord['status'],
    codes: r.codes.map((c) => ({ code: c.code, validUntil: c.validUntil, status: c.status as CodeStatus })),
  };
}
