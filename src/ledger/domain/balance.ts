import { Decimal } from '../../common/money';
import { Side } from './account';

/**
 * Balance changes are derived by the ledger's one door (ledger_record, see docs/accounting.md),
 * never by its callers; what is here reads balances.
 */
export interface BalanceSums {
  debitsPosted: Decimal;
  creditsPosted: Decimal;
  debitsPending: Decimal;
  creditsPending: Decimal;
}

/**
 * A balance in the account's normal direction: `posted`; `pendingIn`, reserved to arrive (e.g.
 * an earn awaiting confirmation: shown, not spendable); `pendingOut`, reserved to leave (a hold
 * for a redemption); `available` = posted − pendingOut, what can be spent now.
 */
export interface BalanceView {
  posted: Decimal;
  pendingIn: Decimal;
  pendingOut: Decimal;
  available: Decimal;
}

export function balanceView(sums: BalanceSums, normalSide: Side): BalanceView {
  const credit = normalSide === 'C';
  const posted = credit ? sums.creditsPosted.minus(sums.debitsPosted) : sums.debitsPosted.minus(sums.creditsPosted);
  const pendingIn = credit ? sums.creditsPending : sums.debitsPending;
  const pendingOut = credit ? sums.debitsPending : sums.creditsPending;
  return { posted, pendingIn, pendingOut, available: posted.minus(pendingOut) };
}
