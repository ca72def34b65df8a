import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';
import { ClientRole } from '../common/principal';

export interface ApiClientRecord {
  id: string;
  name: string;
  role: ClientRole;
  sourceId: string | null;
  partnerId: string | null;
  keyHash: string;
  keyPrefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

@Injectable()
export class ApiClientsRepository {
  constructor(private readonly db: TransactionHost) {}

  async create(record: Omit<ApiClientRecord, 'createdAt' | 'revokedAt'>): Promise<ApiClientRecord> {
    return toRecord(await this.db.client.apiClient.create({ data: record }));
  }

  async findByHash(keyHash: string): Promise<ApiClientRecord | null> {
    const row = await this.db.client.apiClient.findUnique({ where: { keyHash } });
    return row && toRecord(row);
  }

  async findById(id: string): Promise<ApiClientRecord | null> {
    const row = await this.db.client.apiClient.findUnique({ where: { id } });
    return row && toRecord(row);
  }

  /** Marks a key revoked unless it already is; returns whether this call revoked it. */
  async revoke(id: string, at: Date): Promise<boolean> {
    const { count } = await this.db.client.apiClient.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    return count === 1;
  }

  async list(after: { createdAt: Date; id: string } | undefined, take: number): Promise<ApiClientRecord[]> {
    const rows = await this.db.client.apiClient.findMany({
      where: after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : undefined,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take,
    });
    return rows.map(toRecord);
  }
}

function toRecord(row: ApiClientRecord | (Omit<ApiClientRecord, 'role'> & { role: string })): ApiClientRecord {
  return { ...row, role: row.role as ClientRole };
}
