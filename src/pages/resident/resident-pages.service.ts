import { Injectable } from '@nestjs/common';
import QRCode from 'qrcode';
import { CatalogueService } from '../../catalogue/catalogue.service';
import { CategoriesService } from '../../catalogue/categories.service';
import { CatalogueItem } from '../../catalogue/domain/item';
import { DomainError, invalidInput, notFound } from '../../common/errors';
import { Decimal, formatAmount } from '../../common/money';
import { IdempotencyService, StoredAnswer } from '../../idempotency/idempotency.service';
import { requestHash } from '../../idempotency/request-hash';
import { residentAccount, residentDebtAccount } from '../../ledger/domain/account';
import { LedgerReadService } from '../../ledger/ledger-read.service';
import { LedgerService } from '../../ledger/ledger.service';
import { RedemptionDto } from '../../redemption/dto/redemption.dto';
import { RedemptionRecord, RedemptionService } from '../../redemption/redemption.service';
import { Language } from '../i18n/messages';

/** The catalogue's page holds every active item of a category (tens, not thousands). */
const CATALOGUE_PAGE = 500;
const HISTORY_PAGE = 20;
const CODES_PAGE = 20;

export interface BalanceView {
  available: string;
  pending: string;
  debt: string;
  /** the next dates on which points expire: the amount, and the last day they count */
  expiring: { amount: string; lastDay: Date }[];
}

export interface CategoryView {
  id: string;
  name: string;
  itemCount: number;
}

export interface OfferView {
  id: string;
  kind: CatalogueItem['kind'];
  title: string;
  price: string | null;
  /** null: unlimited */
  left: number | null;
  /** how many more this resident may take; null: no limit */
  limitLeft: number | null;
  validDays: number | null;
  minPoints: string | null;
  maxPoints: string | null;
  /** whether the resident may choose it now (in stock, within the limit) */
  open: boolean;
}

export interface CodeView {
  code: string;
  status: string;
  validUntil: Date | null;
  /** the code as a QR image (an SVG data URL: no script needed to draw it) */
  qr?: string;
}

export interface RedemptionView {
  id: string;
  itemId: string;
  title: string;
  kind: CatalogueItem['kind'];
  status: RedemptionRecord['status'];
  pointsSpent: string;
  createdAt: Date;
  codes: CodeView[];
  /** until when it may be cancelled; null when it cannot be any more */
  cancelUntil: Date | null;
}

/** A refusal in the programme's words: the problem code and its detail (the page says it in the resident's language). */
export interface Refusal {
  code: string;
  detail: string;
}

/**
 * View models of the residents' pages, built from the capabilities' own services (ledger,
 * catalogue, redemption): the pages compute nothing the API does not.
 */
@Injectable()
export class ResidentPagesService {
  constructor(
    private readonly ledger: LedgerService,
    private readonly catalogue: CatalogueService,
    private readonly reads: LedgerReadService,
    private readonly categories: CategoriesService,
    private readonly redemptions: RedemptionService,
    private readonly idempotency: IdempotencyService,
  ) {}

  async balance(residentId: string): Promise<BalanceView> {
    const points = residentAccount(residentId);
    const debt = residentDebtAccount(residentId);
    const [balances, expiring] = await Promise.all([
      this.reads.balancesOf([points, debt], 'POINTS'),
      this.reads.residentExpiring(residentId, 3),
    ]);
    return {
      available: formatAmount(balances.get(points)?.available ?? 0, 0),
      pending: formatAmount(balances.get(points)?.pendingIn ?? 0, 0),
      debt: formatAmount(balances.get(debt)?.posted ?? 0, 0),
      // a lot expires at a moment (midnight, Moscow): the points count until the day before it
      expiring: expiring.map((e) => ({ amount: formatAmount(e.amount, 0), lastDay: new Date(e.expiresAt.getTime() - 1) })),
    };
  }

  async categoryList(lang: Language): Promise<CategoryView[]> {
    return (await this.categories.list(new Date())).map((c) => ({ id: c.id, name: c.names[lang], itemCount: c.itemCount }));
  }

  /** The active offers of a category (or all), each with what is left and what this resident may still take. */
  async offers(residentId: string, categoryId?: string): Promise<OfferView[]> {
    const page = await this.catalogue.catalogue(CATALOGUE_PAGE, undefined, new Date(), categoryId);
    const counts = await this.redemptions.residentCounts(
      residentId,
      page.items.filter((e) => e.item.perResidentLimit !== null).map((e) => e.item.id),
    );
    return page.items.map(({ item, available }) => offerOf(item, available, counts.get(item.id) ?? 0));
  }

  async offer(residentId: string, itemId: string): Promise<OfferView> {
    const item = await this.catalogue.getItem(itemId);
    if (!this.catalogue.isActive(item)) throw notFound(`catalogue item ${itemId}`);
    const all = await this.offers(residentId, item.categoryId ?? undefined);
    const found = all.find((o) => o.id === itemId);
    if (!found) throw notFound(`catalogue item ${itemId}`);
    return found;
  }

  async history(residentId: string, cursor?: string) {
    return this.reads.history(residentAccount(residentId), 'POINTS', HISTORY_PAGE, cursor);
  }

  async recent(residentId: string) {
    return (await this.reads.history(residentAccount(residentId), 'POINTS', 5)).items;
  }

  /**
   * Redeems one of an item through the same exactly-once path as POST /v1/me/redemptions: the
   * confirmation form carries a key of its own, so a double press or a resent form redeems once
   * and shows the same answer. Returns the redemption's id, or the refusal.
   */
  async redeem(residentId: string, itemId: string, formKey: string): Promise<{ id: string } | Refusal> {
    const answer = await this.redemptions.redeemOnce(
      context(residentId, formKey, '/app/redeem', { itemId, quantity: 1 }),
      residentId,
      itemId,
      1,
      (r) => RedemptionDto.of(r, r.balanceAfter),
    );
    return outcomeOf(answer);
  }

  /** Donates to a fund, exactly once per form (as `redeem`). */
  async donate(residentId: string, itemId: string, amount: string, formKey: string): Promise<{ id: string } | Refusal> {
    if (!/^[1-9][0-9]{0,14}$/.test(amount)) return { code: 'validation_failed', detail: amount };
    const c = context(residentId, formKey, '/app/donate', { itemId, amount });
    const answer = await this.idempotency.run(c.scope, c.key, c.hash, c.instance, async () => {
      const r = await this.redemptions.donate(residentId, itemId, new Decimal(amount));
      return { status: 201, body: RedemptionDto.of(r, r.balanceAfter) };
    });
    return outcomeOf(answer);
  }

  async cancel(residentId: string, redemptionId: string): Promise<Refusal | null> {
    try {
      await this.redemptions.cancel(residentId, redemptionId);
      return null;
    } catch (error) {
      if (error instanceof DomainError && error.code !== 'not_found') return { code: error.code, detail: error.detail };
      throw error;
    }
  }

  async codes(residentId: string, cursor?: string): Promise<{ items: RedemptionView[]; nextCursor: string | null }> {
    const page = await this.redemptions.list(residentId, CODES_PAGE, cursor);
    return { items: await this.views(page.items, false), nextCursor: page.nextCursor };
  }

  async redemption(residentId: string, id: string): Promise<RedemptionView> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw invalidInput('not a redemption id');
    const [view] = await this.views([await this.redemptions.get(residentId, id)], true);
    return view;
  }

  private async views(records: RedemptionRecord[], withQr: boolean): Promise<RedemptionView[]> {
    const items = new Map((await this.catalogue.findItems([...new Set(records.map((r) => r.itemId))])).map((i) => [i.id, i]));
    const now = new Date();
    return Promise.all(
      records.map(async (r) => {
        const item = items.get(r.itemId)!;
        const until = new Date(r.createdAt.getTime() + item.cancelWindowHours * 3600_000);
        const cancellable = r.status === 'completed' && r.kind !== 'DONATION' && until > now && r.codes.every((c) => c.status === 'issued');
        return {
          id: r.id,
          itemId: r.itemId,
          title: item.title,
          kind: r.kind,
          status: r.status,
          pointsSpent: formatAmount(r.pointsSpent, 0),
          createdAt: r.createdAt,
          cancelUntil: cancellable ? until : null,
          codes: await Promise.all(
            r.codes.map(async (c) => ({
              code: c.code,
              status: c.status === 'issued' && c.validUntil !== null && c.validUntil <= now ? 'expired' : c.status,
              validUntil: c.validUntil,
              ...(withQr ? { qr: await qrOf(c.code) } : {}),
            })),
          ),
        };
      }),
    );
  }
}

function offerOf(item: CatalogueItem, available: number | null, taken: number): OfferView {
  const limitLeft = item.perResidentLimit === null ? null : Math.max(0, item.perResidentLimit - taken);
  return {
    id: item.id,
    kind: item.kind,
    title: item.title,
    price: item.pricePoints ? formatAmount(item.pricePoints, 0) : null,
    left: available,
    limitLeft,
    validDays: item.codeValidDays,
    minPoints: item.minPoints ? formatAmount(item.minPoints, 0) : null,
    maxPoints: item.maxPoints ? formatAmount(item.maxPoints, 0) : null,
    open: (available === null || available > 0) && (limitLeft === null || limitLeft > 0),
  };
}

function context(residentId: string, formKey: string, instance: string, body: object) {
  return { scope: `resident:${residentId}`, key: `page:${formKey}`, hash: requestHash('POST', instance, body), instance };
}

function outcomeOf(answer: StoredAnswer): { id: string } | Refusal {
  // the stored answer is the API's body as it was sent, byte for byte
  const body = JSON.parse(answer.body) as { id?: string; code?: string; detail?: string };
  if (answer.status < 300 && body.id) return { id: body.id };
  return { code: body.code ?? 'other', detail: body.detail ?? '' };
}

async function qrOf(code: string): Promise<string> {
  const svg = await QRCode.toString(code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}
