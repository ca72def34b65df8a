import { Decimal } from '../../common/money';
import { balanceView } from './balance';
import { residentBalanceOf } from './resident-balance';

const sums = (debitsPosted: number, creditsPosted: number, debitsPending: number, creditsPending: number) => ({
  debitsPosted: new Decimal(debitsPosted),
  creditsPosted: new Decimal(creditsPosted),
  debitsPending: new Decimal(debitsPending),
  creditsPending: new Decimal(creditsPending),
});

describe('a resident balance', () => {
  it('a resident who never took part has nothing available, pending or owed', () => {
    const b = residentBalanceOf('anna', undefined, undefined);
    expect([b.residentId, b.available.toFixed(), b.pending.toFixed(), b.debt.toFixed()]).toEqual(['anna', '0', '0', '0']);
  });

  it('a resident with 100 earned, 30 spent, 20 held for a redemption and 50 awaiting confirmation can spend 50', () => {
    // credit-normal: earned 100 (credit), spent 30 (debit); a hold reserves 20 to leave, an unconfirmed accrual 50 to arrive
    const points = balanceView(sums(30, 100, 20, 50), 'C');
    const b = residentBalanceOf('anna', points, undefined);
    expect(b.available.toFixed()).toBe('50');
    expect(b.pending.toFixed()).toBe('50');
    expect(b.debt.toFixed()).toBe('0');
  });

  it('debt is what the debit-normal debt account holds posted, whatever is pending on it', () => {
    const debt = balanceView(sums(40, 15, 0, 5), 'D');
    expect(residentBalanceOf('anna', undefined, debt).debt.toFixed()).toBe('25');
  });

  it('a debt account paid off to zero shows no debt', () => {
    const debt = balanceView(sums(40, 40, 0, 0), 'D');
    expect(residentBalanceOf('anna', undefined, debt).debt.toFixed()).toBe('0');
  });
});
