import { Injectable } from '@nestjs/common';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { Decimal } from '../common/money';
import { CodeRecord, PartnersRepository } from './partners.repository';

export type PartnerCodeStatus = 'issued' | 'redeemed' | 'expired' | 'cancelled';

export interface PartnerCodeView {
  code: string;
  status: PartnerCodeStatus;
  itemId: string;
  validUntil: Date | null;
  redeemedAt: Date | null;
}

/** Partners at the till: look up and redeem the codes of their own items, and their statements. */
@Injectable()
export class PartnersService {
  constructor(private readonly repository: PartnersRepository) {}

  async lookup(partnerId: string, code: string): Promise<PartnerCodeView> {
    return view(await this.own(partnerId, code));
  }

  /** Of any number of concurrent calls for one code, exactly one succeeds. */
  async redeem(partnerId: string, code: string): Promise<PartnerCodeView> {
    const now = new Date();
    const redeemedAt = await this.repository.redeemCode(code, partnerId, now);
    if (redeemedAt) return { ...view(await this.own(partnerId, code)), redeemedAt };
    const found = view(await this.own(partnerId, code));
    if (found.status === 'redeemed') throw new DomainError('code_already_redeemed', `code was already redeemed at ${found.redeemedAt?.toISOString()}`);
    if (found.status === 'expired') throw new DomainError('code_expired', `code expired at ${found.validUntil?.toISOString()}`);
    throw new DomainError('invalid_state', `code is ${found.status}`);
  }

  async settlement(partnerId: string, from: Date, to: Date) {
    if (to <= from) throw invalidInput('to must be after from');
    const [items, donations] = await Promise.all([
      this.repository.settlement(partnerId, from, to),
      this.repository.donations(partnerId, from, to),
    ]);
    const total = {
      codes: items.reduce((n, i) => n + i.codes, 0),
      donations: donations.reduce((n, d) => n + d.donations, 0),
      points: [...items, ...donations].reduce((sum, i) => sum.plus(i.points), new Decimal(0)),
    };
    return { partnerId, from, to, items, donations, total };
  }

  /** A code of this partner; anyone else's, an unknown one or one not yet issued is simply not found. */
  private async own(partnerId: string, code: string): Promise<CodeRecord> {
    const found = await this.repository.findCode(code, partnerId);
    if (!found || found.partnerId !== partnerId || found.status === 'available') throw notFound('code');
    return found;
  }
}

function view(c: CodeRecord): PartnerCodeView {
  const expired = c.status === 'issued' && c.validUntil !== null && c.validUntil <= new Date();
  return {
    code: c.code,
    status: expired ? 'expired' : (c.status as Exclude<PartnerCodeStatus, 'expired'>),
    itemId: c.itemId,
    validUntil: c.validUntil,
    redeemedAt: c.redeemedAt,
  };
}
