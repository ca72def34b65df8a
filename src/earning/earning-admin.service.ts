import { Injectable } from '@nestjs/common';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { Decimal } from '../common/money';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { isForeignKeyViolation, isUniqueViolation } from '../infra/database/prisma.service';
import { Campaign, EarningRule } from './domain/earning';
import { EarningRepository, RuleInput } from './earning.repository';
import { RuleBook } from './rule-book.service';

/** Programme admins' side of earning: rules and campaigns. */
@Injectable()
export class EarningAdminService {
  constructor(
    private readonly repository: EarningRepository,
    private readonly rules: RuleBook,
  ) {}

  async createRule(input: RuleInput): Promise<EarningRule> {
    checkRule(input);
    const rule = await this.guard(`earning rule ${input.id}`, `source ${input.sourceId}`, () => this.repository.createRule(input));
    this.rules.invalidate();
    return rule;
  }

  async updateRule(id: string, changes: Partial<RuleInput>): Promise<EarningRule> {
    const existing = await this.repository.findRule(id);
    if (!existing) throw notFound(`earning rule ${id}`);
    checkRule({ ...existing, ...changes });
    const rule = await this.repository.updateRule(id, changes);
    this.rules.invalidate();
    return rule;
  }

  async getRule(id: string): Promise<EarningRule> {
    const rule = await this.repository.findRule(id);
    if (!rule) throw notFound(`earning rule ${id}`);
    return rule;
  }

  async listRules(limit: number, cursor?: string, sourceId?: string): Promise<Page<EarningRule>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.listRules({ sourceId, afterId: after?.id }, limit + 1);
    return pageOf(
      rows,
      limit,
      (r) => r,
      (r) => ({ id: r.id }),
    );
  }

  async createCampaign(input: Campaign): Promise<Campaign> {
    if (input.validTo <= input.validFrom) throw invalidInput('validTo must be after validFrom');
    if (input.multiplier.lte(0) || input.multiplier.gt(100)) throw invalidInput('multiplier must be above 0 and at most 100');
    const campaign = await this.guard(`campaign ${input.id}`, `source ${input.sourceId}`, () => this.repository.createCampaign(input));
    this.rules.invalidate();
    return campaign;
  }

  async listCampaigns(limit: number, cursor?: string): Promise<Page<Campaign>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.listCampaigns(after?.id, limit + 1);
    return pageOf(
      rows,
      limit,
      (c) => c,
      (c) => ({ id: c.id }),
    );
  }

  private async guard<T>(what: string, reference: string, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      if (isUniqueViolation(error)) throw new DomainError('already_exists', `${what} already exists`);
      if (isForeignKeyViolation(error)) throw notFound(reference);
      throw error;
    }
  }
}

function checkRule(rule: Pick<RuleInput, 'minPoints' | 'maxPoints' | 'validFrom' | 'validTo' | 'points'>): void {
  if ((rule.minPoints === null) !== (rule.maxPoints === null)) throw invalidInput('minPoints and maxPoints go together');
  if (rule.minPoints && rule.maxPoints && rule.maxPoints.lt(rule.minPoints)) throw invalidInput('maxPoints must be at least minPoints');
  if (rule.validFrom && rule.validTo && rule.validTo <= rule.validFrom) throw invalidInput('validTo must be after validFrom');
  if (rule.points.lte(0)) throw invalidInput('points must be positive');
}

export const decimalOrNull = (v: string | undefined | null) => (v === undefined || v === null ? null : new Decimal(v));
