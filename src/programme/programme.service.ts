import { Injectable } from '@nestjs/common';
import { AdminActionsService } from '../audit/admin-actions.service';
import { DomainError } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { isUniqueViolation } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { Partner, PartnerKind, Source } from './domain/partner';
import { ProgrammeRepository } from './programme.repository';

/** The programme's participants: the participation services that earn, the partners that honour. */
@Injectable()
export class ProgrammeService {
  constructor(
    private readonly db: TransactionHost,
    private readonly repository: ProgrammeRepository,
    private readonly adminActions: AdminActionsService,
  ) {}

  async createSource(actor: string, input: { id: string; name: string }): Promise<Source> {
    return this.uniquely(`source ${input.id}`, () =>
      this.db.run(async () => {
        const source = await this.repository.createSource(input);
        await this.adminActions.record({ actor, action: 'source.created', subject: `source:${source.id}`, details: { name: source.name } });
        return source;
      }),
    );
  }

  async listSources(limit: number, cursor?: string): Promise<Page<Source>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.listSources(after?.id, limit + 1);
    return pageOf(
      rows,
      limit,
      (s) => s,
      (s) => ({ id: s.id }),
    );
  }

  async createPartner(actor: string, input: { id: string; name: string; kind: PartnerKind }): Promise<Partner> {
    return this.uniquely(`partner ${input.id}`, () =>
      this.db.run(async () => {
        const partner = await this.repository.createPartner(input);
        await this.adminActions.record({
          actor,
          action: 'partner.created',
          subject: `partner:${partner.id}`,
          details: { name: partner.name, kind: partner.kind },
        });
        return partner;
      }),
    );
  }

  async listPartners(limit: number, cursor?: string): Promise<Page<Partner>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.listPartners(after?.id, limit + 1);
    return pageOf(
      rows,
      limit,
      (p) => p,
      (p) => ({ id: p.id }),
    );
  }

  /** A partner by id (the till shows its name), or null. */
  findPartner(id: string): Promise<Partner | null> {
    return this.repository.findPartner(id);
  }

  private async uniquely<T>(what: string, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      if (isUniqueViolation(error)) throw new DomainError('already_exists', `${what} already exists`);
      throw error;
    }
  }
}
