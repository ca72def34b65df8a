import { Decimal } from '../../common/money';
import { charityAccount, partnerRedeemedAccount } from '../../ledger/domain/account';

export const ITEM_KINDS = ['PROMO_CODE', 'TICKET', 'DONATION'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];
export const CODE_SOURCES = ['POOL', 'GENERATED'] as const;
export type CodeSource = (typeof CODE_SOURCES)[number];

export interface CatalogueItem {
  id: string;
  kind: ItemKind;
  title: string;
  partnerId: string;
  pricePoints: Decimal | null;
  /** null: unlimited */
  stock: number | null;
  sold: number;
  perResidentLimit: number | null;
  codeSource: CodeSource | null;
  codeValidDays: number | null;
  cancelWindowHours: number;
  activeFrom: Date | null;
  activeTo: Date | null;
  minPoints: Decimal | null;
  maxPoints: Decimal | null;
  /** the catalogue category residents find it under; null: none yet */
  categoryId: string | null;
}

export function isActive(item: Pick<CatalogueItem, 'activeFrom' | 'activeTo'>, at: Date): boolean {
  return (!item.activeFrom || item.activeFrom <= at) && (!item.activeTo || at < item.activeTo);
}

/** The account spent points go to: the partner's `redeemed` account, or the charity fund's. */
export function payeeAccount(item: Pick<CatalogueItem, 'kind' | 'partnerId'>): string {
  return item.kind === 'DONATION' ? charityAccount(item.partnerId) : partnerRedeemedAccount(item.partnerId);
}

/** What is left to sell: the stock minus what was sold; for a pool, the codes not yet issued. */
export function availableOf(item: CatalogueItem, poolAvailable: number): number | null {
  if (item.kind === 'DONATION') return null;
  if (item.codeSource === 'POOL') return item.stock === null ? poolAvailable : Math.min(poolAvailable, item.stock - item.sold);
  return item.stock === null ? null : item.stock - item.sold;
}
