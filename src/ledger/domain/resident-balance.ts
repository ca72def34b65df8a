import { Decimal } from '../../common/money';
import { BalanceView } from './balance';

/**
 * A resident's points as the programme shows them: `available`, what they can spend now (posted
 * minus what holds reserve); `pending`, points on their way (awaiting confirmation), shown but
 * not spendable; `debt`, what they owe after a revoked accrual, which later earnings pay off first.
 */
export interface ResidentBalance {
  residentId: string;
  available: Decimal;
  pending: Decimal;
  debt: Decimal;
}

/**
 * The one place that composes a resident's balance from their two accounts (`resident:{id}` and
 * `resident:{id}:debt`, either absent when never used).
 */
export function residentBalanceOf(residentId: string, points: BalanceView | undefined, debt: BalanceView | undefined): ResidentBalance {
  const zero = new Decimal(0);
  return {
    residentId,
    available: points?.available ?? zero,
    pending: points?.pendingIn ?? zero,
    debt: debt && debt.posted.gt(0) ? debt.posted : zero,
  };
}
