import { Injectable } from '@nestjs/common';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { Decimal } from '../common/money';
import { CodeRecord, PartnersRepository } from './partners.repository';
import { CODE_ALPHABET, GENERATED_CODE_LENGTH, isWellFormedGeneratedCode } from '../catalogue/domain/codes';

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
  async redeem(partnerId: string, typed: string): Promise<PartnerCodeView> {
    const now = new Date();
    // as typed first (the till's usual case, one statement); then as the code was issued, if its case differs
    let code = typed;
    let redeemedAt = await this.repository.redeemCode(code, partnerId, now);
    if (!redeemedAt) {
      code = (await this.own(partnerId, typed)).code;
      if (code !== typed) redeemedAt = await this.repository.redeemCode(code, partnerId, now);
    }
    if (redeemedAt) return { ...view(await this.own(partnerId, code)), redeemedAt };
    const found = view(await this.own(partnerId, code));
    if (found.status === 'redeemed')
      throw new DomainError('code_already_redeemed', `code was already redeemed at ${found.redeemedAt?.toISOString()}`);
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
    const found =
      (await this.mine(partnerId, code)) ?? (code !== code.toUpperCase() ? await this.mine(partnerId, code.toUpperCase()) : null);
    if (found) return found;
    // a code of our generated shape whose check character does not match is a typo, not a code anyone holds
    const upper = code.toUpperCase();
    if (upper.length === GENERATED_CODE_LENGTH && [...upper].every((c) => CODE_ALPHABET.includes(c)) && !isWellFormedGeneratedCode(upper)) {
      throw new DomainError('not_found', 'not a valid code (check the characters): its check character does not match');
    }
    throw notFound('code');
  }

  /**
   * Codes are matched as typed, then in capitals (generated codes are all capitals and a till
   * may type lower case); a pool code in lower case is found as typed.
   */
  private async mine(partnerId: string, code: string): Promise<CodeRecord | null> {
    const found = await this.repository.findCode(code, partnerId);
    return found && found.partnerId === partnerId && found.status !== 'available' ? found : null;
  }

  /** The codes of this partner's items redeemed in [from, to), newest first (the till's day). */
  redeemedCodes(
    partnerId: string,
    from: Date,
    to: Date,
    take: number,
  ): Promise<{ code: string; itemId: string; title: string; redeemedAt: Date }[]> {
    return this.repository.redeemedCodes(partnerId, from, to, take);
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
