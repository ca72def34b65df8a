import { Injectable } from '@nestjs/common';
import { DomainError, notFound } from '../common/errors';
import { isForeignKeyViolation, isUniqueViolation } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { CategoriesRepository } from './categories.repository';
import { CatalogueCategory, CategoryNames } from './domain/category';

export interface CategoryWithCount extends CatalogueCategory {
  itemCount: number;
}

/** Catalogue categories: kept by admins, read by everyone (the public catalogue and the residents' pages). */
@Injectable()
export class CategoriesService {
  constructor(
    private readonly db: TransactionHost,
    private readonly repository: CategoriesRepository,
  ) {}

  async create(category: CatalogueCategory): Promise<CatalogueCategory> {
    try {
      return await this.repository.create(category);
    } catch (error) {
      if (isUniqueViolation(error)) throw new DomainError('already_exists', `category ${category.id} already exists`);
      throw error;
    }
  }

  async get(id: string): Promise<CatalogueCategory> {
    const found = await this.repository.find(id);
    if (!found) throw notFound(`category ${id}`);
    return found;
  }

  update(id: string, changes: { names?: Partial<CategoryNames>; position?: number }): Promise<CatalogueCategory> {
    return this.db.run(async () => {
      const found = await this.repository.find(id, 'update');
      if (!found) throw notFound(`category ${id}`);
      return this.repository.update(id, {
        id,
        names: { ...found.names, ...changes.names },
        position: changes.position ?? found.position,
      });
    });
  }

  /** Deletes a category no item uses; one in use is refused (move its items first). */
  delete(id: string): Promise<void> {
    return this.db.run(async () => {
      if (!(await this.repository.find(id, 'update'))) throw notFound(`category ${id}`);
      try {
        await this.repository.delete(id);
      } catch (error) {
        if (isForeignKeyViolation(error))
          throw new DomainError('invalid_state', `category ${id} is used by catalogue items: move them first`);
        throw error;
      }
    });
  }

  /** Every category in page order, with how many items it holds (`activeAt`: only items active then). */
  async list(activeAt?: Date): Promise<CategoryWithCount[]> {
    const [categories, counts] = await Promise.all([this.repository.list(), this.repository.itemCounts(activeAt)]);
    return categories.map((c) => ({ ...c, itemCount: counts.get(c.id) ?? 0 }));
  }

  /** Whether a category exists (items refer to it). */
  async exists(id: string): Promise<boolean> {
    return (await this.repository.find(id)) !== null;
  }
}
