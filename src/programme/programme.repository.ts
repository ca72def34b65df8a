import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';
import { Partner, PartnerKind, Source } from './domain/partner';

@Injectable()
export class ProgrammeRepository {
  constructor(private readonly db: TransactionHost) {}

  createSource(source: { id: string; name: string }): Promise<Source> {
    return this.db.client.source.create({ data: source });
  }

  findSource(id: string): Promise<Source | null> {
    return this.db.client.source.findUnique({ where: { id } });
  }

  listSources(afterId: string | undefined, take: number): Promise<Source[]> {
    return this.db.client.source.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take,
    });
  }

  async createPartner(partner: { id: string; name: string; kind: PartnerKind }): Promise<Partner> {
    return toPartner(await this.db.client.partner.create({ data: partner }));
  }

  async findPartner(id: string): Promise<Partner | null> {
    const row = await this.db.client.partner.findUnique({ where: { id } });
    return row && toPartner(row);
  }

  async listPartners(afterId: string | undefined, take: number): Promise<Partner[]> {
    const rows = await this.db.client.partner.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take,
    });
    return rows.map(toPartner);
  }
}

function toPartner(row: { id: string; name: string; kind: string; createdAt: Date }): Partner {
  return { id: row.id, name: row.name, kind: row.kind as PartnerKind, createdAt: row.createdAt };
}
