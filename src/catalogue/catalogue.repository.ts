import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';
import { CatalogueItem, CodeSource, ItemKind } from './domain/item';

/** How long the public catalogue may show a pool's available count as it was. */
const POOL_COUNT_CACHE_MS = 2_000;
/** Pool items whose counts are kept, the least recently read forgotten beyond this. */
const POOL_COUNTS_KEPT = 10_000;

/**
 * Items, their stock and their code pools: the catalogue's tables. Redemptions (and the codes
 * they issue) are RedemptionRepository's; a partner's till reads through PartnersRepository.
 */
@Injectable()
export class CatalogueRepository {
  private readonly poolCounts = new LRUCache<string, { n: number }>({ max: POOL_COUNTS_KEPT, ttl: POOL_COUNT_CACHE_MS });

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
    const counts = new Map<string, number>();
    const missing: string[] = [];
    for (const id of itemIds) {
      const hit = this.poolCounts.get(id);
      if (hit) counts.set(id, hit.n);
      else missing.push(id);
    }
    if (missing.length === 0) return counts;
    const rows = await this.db.client.$queryRaw<{ item_id: string; n: number }[]>`
      SELECT item_id, count(*)::int AS n FROM item_codes WHERE status = 'available' AND item_id = ANY(${missing}::text[]) GROUP BY item_id`;
    const found = new Map(rows.map((r) => [r.item_id, r.n]));
    for (const id of missing) {
      counts.set(id, found.get(id) ?? 0);
      this.poolCounts.set(id, { n: found.get(id) ?? 0 });
    }
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

  /** Quantities sold (redemptions not cancelled) of each of these items. */
  async salesOf(itemIds: string[]): Promise<Map<string, number>> {
    const rows = await this.db.client.$queryRaw<{ item_id: string; sold: number }[]>`
      SELECT item_id, sum(quantity)::int AS sold FROM redemptions
      WHERE item_id = ANY(${itemIds}::text[]) AND status <> 'cancelled' AND kind <> 'DONATION'
      GROUP BY item_id`;
    return new Map(rows.map((r) => [r.item_id, r.sold]));
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

  async findItems(ids: string[]): Promise<CatalogueItem[]> {
    if (ids.length === 0) return [];
    return (await this.db.client.catalogueItem.findMany({ where: { id: { in: ids } } })).map(toItem);
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
