import { Injectable } from '@nestjs/common';
import { CatalogueService } from '../../catalogue/catalogue.service';
import { DomainError } from '../../common/errors';
import { formatAmount } from '../../common/money';
import { PartnersService } from '../../partners/partners.service';
import { ProgrammeService } from '../../programme/programme.service';
import { dayStart, monthStart } from '../i18n/moscow-time';

/** A code as the till shows it: the API's status, or `unknown` for one this partner does not have. */
export interface TillCodeView {
  code: string;
  status: 'issued' | 'redeemed' | 'expired' | 'cancelled' | 'unknown' | 'invalid';
  title: string | null;
  validUntil: Date | null;
  redeemedAt: Date | null;
}

/** The same check the API makes of a code's shape (1 to 64 printable characters). */
const CODE = /^[\x21-\x7e]{1,64}$/;

/** The partners' till: look a code up, redeem it, and the day's and month's redemptions. */
@Injectable()
export class TillPagesService {
  constructor(
    private readonly partners: PartnersService,
    private readonly catalogue: CatalogueService,
    private readonly programme: ProgrammeService,
  ) {}

  /** The partner's name as the programme knows it (not the key's). */
  async partnerName(partnerId: string): Promise<string> {
    return (await this.programme.findPartner(partnerId))?.name ?? partnerId;
  }

  async lookup(partnerId: string, raw: string): Promise<TillCodeView> {
    const code = raw.trim();
    if (!CODE.test(code)) return { code, status: 'invalid', title: null, validUntil: null, redeemedAt: null };
    try {
      const found = await this.partners.lookup(partnerId, code);
      return { ...found, title: (await this.catalogue.findItem(found.itemId))?.title ?? null };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'not_found')
        return { code, status: 'unknown', title: null, validUntil: null, redeemedAt: null };
      throw error;
    }
  }

  /**
   * Redeems through the partners' service: of two presses or two tills exactly one wins; the
   * other sees the code as it now is (already redeemed, with the time).
   */
  async redeem(partnerId: string, raw: string): Promise<{ won: boolean; view: TillCodeView }> {
    const code = raw.trim();
    if (!CODE.test(code)) return { won: false, view: await this.lookup(partnerId, code) };
    try {
      await this.partners.redeem(partnerId, code);
      return { won: true, view: await this.lookup(partnerId, code) };
    } catch (error) {
      if (error instanceof DomainError && ['code_already_redeemed', 'code_expired', 'invalid_state', 'not_found'].includes(error.code)) {
        return { won: false, view: await this.lookup(partnerId, code) };
      }
      throw error;
    }
  }

  async today(partnerId: string, now = new Date()) {
    return this.partners.redeemedCodes(partnerId, dayStart(now), now, 50);
  }

  async month(partnerId: string, now = new Date()) {
    const from = monthStart(now);
    const s = await this.partners.settlement(partnerId, from, new Date(now.getTime() + 1));
    return {
      from,
      items: s.items.map((i) => ({ title: i.title, codes: i.codes, points: formatAmount(i.points, 0) })),
      donations: s.donations.map((d) => ({ title: d.title, donations: d.donations, points: formatAmount(d.points, 0) })),
      total: { codes: s.total.codes, donations: s.total.donations, points: formatAmount(s.total.points, 0) },
    };
  }
}
