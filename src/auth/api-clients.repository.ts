import { Injectable } from '@nestjs/common';
import { PrismaService, Tx } from '../infra/database/prisma.service';
import { ClientRole } from './domain/principal';

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
  constructor(private readonly prisma: PrismaService) {}

  async create(tx: Tx, record: Omit<ApiClientRecord, 'createdAt' | 'revokedAt'>): Promise<ApiClientRecord> {
    return toRecord(await tx.apiClient.create({ data: record }));
  }

  async findByHash(keyHash: string): Promise<ApiClientRecord | null> {
    const row = await this.prisma.apiClient.findUnique({ where: { keyHash } });
    return row && toRecord(row);
  }

  async findById(tx: Tx, id: string): Promise<ApiClientRecord | null> {
    const row = await tx.apiClient.findUnique({ where: { id } });
    return row && toRecord(row);
  }

  /** Marks a key revoked unless it already is; returns whether this call revoked it. */
  async revoke(tx: Tx, id: string, at: Date): Promise<boolean> {
    const { count } = await tx.apiClient.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    return count === 1;
  }

  async list(after: { createdAt: Date; id: string } | undefined, take: number): Promise<ApiClientRecord[]> {
    const rows = await this.prisma.apiClient.findMany({
      where: after
        ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
        : undefined,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take,
    });
    return rows.map(toRecord);
  }
}

function toRecord(row: ApiClientRecord | (Omit<ApiClientRecord, 'role'> & { role: string })): ApiClientRecord {
  return { ...row, role: row.role as ClientRole };
}
