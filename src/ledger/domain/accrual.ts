import { Decimal } from '../../common/money';
import { ISSUED_ACCOUNT, residentAccount, residentDebtAccount } from './account';
import { Posting } from './transaction';

/**
 * The rule every accrual to a resident follows (earn events, bulk awards): what a resident owes
 * after a revoked accrual is paid off first, the rest goes to their points. Plain functions, so
 * that each path that credits residents applies the same rule.
 */

/**
 * How much of `points` goes to `residentId`'s debt, taking it off what `debts` (resident id →
 * what they owe, updated in place) says they still owe: several accruals of one resident in one
 * batch pay the debt once between them.
 */
export function payDebtFirst(debts: Map<string, Decimal>, residentId: string, points: Decimal): Decimal {
  const debt = debts.get(residentId);
  if (!debt || debt.lte(0)) return new Decimal(0);
  const paid = Decimal.min(debt, points);
  debts.set(residentId, debt.minus(paid));
  return paid;
}

/** programme:issued → the resident (and, for a resident in debt, `toDebt` of it to their debt first). */
export function accrual(residentId: string, points: Decimal, toDebt: Decimal): Posting[] {
  const postings: Posting[] = [{ account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'D', amount: points }];
  if (toDebt.gt(0)) postings.push({ account: residentDebtAccount(residentId), asset: 'POINTS', side: 'C', amount: toDebt });
  const rest = points.minus(toDebt);
  if (rest.gt(0)) postings.push({ account: residentAccount(residentId), asset: 'POINTS', side: 'C', amount: rest });
  return postings;
}
