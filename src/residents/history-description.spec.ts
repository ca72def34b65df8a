import { Decimal } from '../common/money';
import { residentDescription } from './history-description';

describe('a resident’s history in the resident’s words', () => {
  const line = (type: string, amount: string, description: string | null, originType: string | null = null) =>
    residentDescription({ type, originType, description, amount: new Decimal(amount) });

  it('a confirmed report (a posted hold in the journal) reads as what was earned for what', () => {
    expect(line('hold.posted', '50', 'Confirmed problem report', 'earn')).toBe('Earned for: Confirmed problem report');
    expect(line('earn', '30', 'Vote in poll 123')).toBe('Earned for: Vote in poll 123');
  });

  it('purchases, donations, refunds, revocations, expiry and adjustments', () => {
    expect(line('redeem', '-100', '20% off any coffee')).toBe('Bought: 20% off any coffee');
    expect(line('redeem.cancelled', '100', '20% off any coffee', 'redeem')).toBe('Refunded: 20% off any coffee');
    expect(line('donate', '-150', 'Help the animal shelter')).toBe('Donated: Help the animal shelter');
    expect(line('earn.revoked', '-30', 'Vote in poll 123', 'earn')).toBe('Taken back: Vote in poll 123');
    expect(line('expiry', '-20', null)).toBe('Points expired');
    expect(line('adjustment', '500', 'welcome')).toBe('Added by the programme: welcome');
    expect(line('adjustment', '-50', 'duplicate accrual')).toBe('Correction: duplicate accrual');
  });
});
