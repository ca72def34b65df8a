import { Injectable } from '@nestjs/common';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { isForeignKeyViolation, isUniqueViolation } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { LedgerService } from '../ledger/ledger.service';
import { CatalogueRepository } from './catalogue.repository';
import { CategoriesRepository } from './categories.repository';
import { POOL_CODE } from './domain/codes';
import { availableOf, CatalogueItem, isActive, payeeAccount } from './domain/item';

export type NewItem = Omit<CatalogueItem, 'sold'>;

/** Codes are added to a pool in chunks of this many rows. */
const UPLOAD_CHUNK = 5_000;

/** The catalogue: items, their stock and code pools. */
@Injectable()
export class CatalogueService {
  constructor(
    private readonly db: TransactionHost,
    private readonly repository: CatalogueRepository,
    private readonly ledger: LedgerService,
    private readonly categories: CategoriesRepository,
  ) {}

  async createItem(item: NewItem): Promise<CatalogueItem> {
    checkShape(item);
    try {
      return await this.db.run(async () => {
        if (item.categoryId !== null) await this.knownCategory(item.categoryId);
        const created = await this.repository.createItem(item);
        // the account its sales are paid to, open before the first sale: a redemption then goes
        // in one statement from the start instead of many waiting to create it together
        await this.ledger.open([payeeAccount(created)], 'POINTS');
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new DomainError('already_exists', `catalogue item ${item.id} already exists`);
      if (isForeignKeyViolation(error)) throw notFound(`partner ${item.partnerId}`);
      throw error;
    }
  }

  async updateItem(id: string, changes: Partial<Omit<CatalogueItem, 'id' | 'sold' | 'kind'>>): Promise<CatalogueItem> {
    return this.db.run(async () => {
      const item = await this.repository.findItem(id);
      if (!item) throw notFound(`catalogue item ${id}`);
      const next = { ...item, ...changes };
      checkShape(next);
      if (next.stock !== null && next.stock < item.sold) throw invalidInput(`stock cannot go below the ${item.sold} already sold`);
      if (changes.categoryId) await this.knownCategory(changes.categoryId);
      // an item made before items opened their payee account opens it here, before its row is
      // locked: a first sale creating the account and then taking stock waits in the other order
      await this.ledger.open([payeeAccount(item)], 'POINTS');
      return this.repository.updateItem(id, changes);
    });
  }

  /** The item as it is now, or null; inside a redemption's transaction, what it reads its price and limits from. */
  findItem(id: string): Promise<CatalogueItem | null> {
    return this.repository.findItem(id);
  }

  /** Counts a sale against a limited stock; false when it would exceed the stock. */
  takeStock(itemId: string, quantity: number): Promise<boolean> {
    return this.repository.takeStock(itemId, quantity);
  }

  /** Gives a cancelled sale back to the stock. */
  returnStock(itemId: string, quantity: number): Promise<void> {
    return this.repository.returnStock(itemId, quantity);
  }

  /** Forgets the counted pool of an item whose codes a redemption is taking. */
  forgetPoolCount(itemId: string): void {
    this.repository.forgetPoolCount(itemId);
  }

  async getItem(id: string): Promise<CatalogueItem> {
    const item = await this.repository.findItem(id);
    if (!item) throw notFound(`catalogue item ${id}`);
    return (await this.withSales([item]))[0];
  }

  /**
   * What was sold of each item. The item's own counter moves only where a stock is limited (it
   * guards the stock, and counting every sale of an unlimited item would make its row a lock
   * that all its sales queue on); an unlimited item's sales are counted from its redemptions.
   */
  private async withSales(items: CatalogueItem[]): Promise<CatalogueItem[]> {
    const unlimited = items.filter((i) => i.stock === null && i.kind !== 'DONATION').map((i) => i.id);
    if (unlimited.length === 0) return items;
    const sold = await this.repository.salesOf(unlimited);
    return items.map((i) => (i.stock === null && i.kind !== 'DONATION' ? { ...i, sold: sold.get(i.id) ?? 0 } : i));
  }

  /** Active items, each with what is still available (null: unlimited). */
  async catalogue(
    limit: number,
    cursor?: string,
    at = new Date(),
    categoryId?: string,
  ): Promise<Page<{ item: CatalogueItem; available: number | null }>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.withSales(await this.repository.listItems({ afterId: after?.id, activeAt: at, categoryId }, limit + 1));
    const pools = await this.repository.poolAvailable(rows.filter((r) => r.codeSource === 'POOL').map((r) => r.id));
    return pageOf(
      rows,
      limit,
      (item) => ({ item, available: availableOf(item, pools.get(item.id) ?? 0) }),
      (item) => ({ id: item.id }),
    );
  }

  /**
   * Adds codes to an item's pool, from any source of lines (a JSON list, a streamed CSV upload).
   * Duplicates (within the upload or already known) are counted and skipped. A malformed code
   * refuses the whole upload and nothing is added. `partnerId` restricts to that partner's items.
   */
  uploadCodes(
    itemId: string,
    lines: AsyncIterable<string> | Iterable<string>,
    partnerId?: string,
  ): Promise<{ added: number; duplicates: number }> {
    return this.db.run(async () => {
      const item = await this.repository.findItem(itemId);
      if (!item || (partnerId !== undefined && item.partnerId !== partnerId)) throw notFound(`catalogue item ${itemId}`);
      if (item.codeSource !== 'POOL') throw new DomainError('invalid_state', `catalogue item ${itemId} does not take a code pool`);
      await this.repository.lockPartnerCodes(item.partnerId);
      const seen = new Set<string>();
      let chunk: string[] = [];
      let added = 0;
      let duplicates = 0;
      let line = 0;
      const flush = async () => {
        added += await this.repository.addCodes(itemId, item.partnerId, chunk);
        chunk = [];
      };
      for await (const raw of lines) {
        line++;
        const code = raw.trim();
        if (code === '') continue;
        if (!POOL_CODE.test(code)) throw invalidInput(`line ${line}: a code is 4 to 64 printable characters without spaces`);
        if (seen.has(code)) {
          duplicates++;
          continue;
        }
        seen.add(code);
        chunk.push(code);
        if (chunk.length >= UPLOAD_CHUNK) await flush();
      }
      await flush();
      duplicates += seen.size - added;
      return { added, duplicates };
    });
  }

  /** A category an item is put in must exist (locked against deletion until the item is written). */
  private async knownCategory(id: string): Promise<void> {
    if (!(await this.categories.find(id, 'share'))) throw notFound(`category ${id}`);
  }

  isActive(item: CatalogueItem, at = new Date()): boolean {
    return isActive(item, at);
  }

  findItems(ids: string[]): Promise<CatalogueItem[]> {
    return this.repository.findItems(ids);
  }
}

function checkShape(item: Omit<CatalogueItem, 'sold'>): void {
  if (item.activeFrom && item.activeTo && item.activeTo <= item.activeFrom) throw invalidInput('activeTo must be after activeFrom');
  if (item.kind === 'DONATION') {
    if (!item.minPoints || !item.maxPoints) throw invalidInput('a DONATION item needs minPoints and maxPoints');
    if (item.maxPoints.lt(item.minPoints)) throw invalidInput('maxPoints must be at least minPoints');
    if (item.codeSource) throw invalidInput('a DONATION item issues no code: no codeSource');
    return;
  }
  if (!item.pricePoints) throw invalidInput(`a ${item.kind} item needs pricePoints`);
  if (!item.codeSource) throw invalidInput(`a ${item.kind} item needs codeSource (POOL or GENERATED)`);
  if (item.minPoints || item.maxPoints) throw invalidInput('minPoints and maxPoints are for DONATION items');
}
