import { Injectable } from '@nestjs/common';
import { PrismaService, Tx } from '../infra/database/prisma.service';
import { Partner, PartnerKind, Source } from './domain/partner';

@Injectable()
export class ProgrammeRepository {
  constructor(private readonly prisma: PrismaService) {}

  createSource(tx: Tx, source: { id: string; name: string }): Promise<Source> {
    return tx.source.create({ data: source });
  }

  findSource(id: string): Promise<Source | null> {
    return this.prisma.source.findUnique({ where: { id } });
  }

  listSources(afterId: string | undefined, take: number): Promise<Source[]> {
    return this.prisma.source.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take,
    });
  }

  async createPartner(tx: Tx, partner: { id: string; name: string; kind: PartnerKind }): Promise<Partner> {
    return toPartner(await tx.partner.create({ data: partner }));
  }

  async findPartner(id: string): Promise<Partner | null> {
    const row = await this.prisma.partner.findUnique({ where: { id } });
    return row && toPartner(row);
  }

  async listPartners(afterId: string | undefined, take: number): Promise<Partner[]> {
    const rows = await this.prisma.partner.findMany({
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
