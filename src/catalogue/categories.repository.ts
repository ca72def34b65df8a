import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';
import { CatalogueCategory } from './domain/category';

/** The catalogue's categories table. */
@Injectable()
export class CategoriesRepository {
  constructor(private readonly db: TransactionHost) {}

  async create(c: CatalogueCategory): Promise<CatalogueCategory> {
    return toCategory(
      await this.db.client.catalogueCategory.create({ data: { id: c.id, nameRu: c.names.ru, nameEn: c.names.en, position: c.position } }),
    );
  }

  /** `lock`: 'update' to change or delete it; 'share' to keep it until an item referring to it is written. */
  async find(id: string, lock?: 'update' | 'share'): Promise<CatalogueCategory | null> {
    if (lock === 'update') await this.db.client.$queryRaw`SELECT 1 FROM catalogue_categories WHERE id = ${id} FOR UPDATE`;
    if (lock === 'share') await this.db.client.$queryRaw`SELECT 1 FROM catalogue_categories WHERE id = ${id} FOR KEY SHARE`;
    const row = await this.db.client.catalogueCategory.findUnique({ where: { id } });
    return row && toCategory(row);
  }

  async update(id: string, c: CatalogueCategory): Promise<CatalogueCategory> {
    const row = await this.db.client.catalogueCategory.update({
      where: { id },
      data: { nameRu: c.names.ru, nameEn: c.names.en, position: c.position, updatedAt: new Date() },
    });
    return toCategory(row);
  }

  async delete(id: string): Promise<void> {
    await this.db.client.catalogueCategory.delete({ where: { id } });
  }

  /** Every category in page order (a catalogue has tens of them, not thousands). */
  async list(): Promise<CatalogueCategory[]> {
    const rows = await this.db.client.catalogueCategory.findMany({ orderBy: [{ position: 'asc' }, { id: 'asc' }] });
    return rows.map(toCategory);
  }

  /** How many items use each category: all of them, or only those active at `activeAt`. */
  async itemCounts(activeAt?: Date): Promise<Map<string, number>> {
    const rows = activeAt
      ? await this.db.client.$queryRaw<{ category_id: string; n: number }[]>`
          SELECT category_id, count(*)::int AS n FROM catalogue_items
          WHERE category_id IS NOT NULL AND (active_from IS NULL OR active_from <= ${activeAt}) AND (active_to IS NULL OR active_to > ${activeAt})
          GROUP BY category_id`
      : await this.db.client.$queryRaw<{ category_id: string; n: number }[]>`
          SELECT category_id, count(*)::int AS n FROM catalogue_items WHERE category_id IS NOT NULL GROUP BY category_id`;
    return new Map(rows.map((r) => [r.category_id, r.n]));
  }
}

function toCategory(r: { id: string; nameRu: string; nameEn: string; position: number }): CatalogueCategory {
  return { id: r.id, names: { ru: r.nameRu, en: r.nameEn }, position: r.position };
}
