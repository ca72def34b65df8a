import { Decimal } from '../../common/money';
import { DomainError } from '../../common/errors';
import { classifyAccount, SYSTEM_ACCOUNT_SHARDS } from './account';
import { balanceView } from './balance';
import { partOfHold, Posting, reversed, validatePostings } from './transaction';

const scales = new Map([
  ['POINTS', 0],
  ['RUB', 2],
]);
const p = (account: string, side: 'D' | 'C', amount: string, asset = 'POINTS'): Posting => ({
  account,
  asset,
  side,
  amount: new Decimal(amount),
});

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error.detail;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('accounts', () => {
  it('know their owner, normal side, floor and shards from their code', () => {
    expect(classifyAccount('resident:anna')).toMatchObject({ owner: 'resident', normalSide: 'C', floorZero: true, shards: 1 });
    expect(classifyAccount('programme:issued')).toMatchObject({ normalSide: 'D', floorZero: false, shards: SYSTEM_ACCOUNT_SHARDS });
    expect(classifyAccount('programme:expired')).toMatchObject({ normalSide: 'C' });
    expect(classifyAccount('partner:cafe:redeemed')).toMatchObject({ owner: 'partner', normalSide: 'C' });
    expect(classifyAccount('charity:children-fund')).toMatchObject({ owner: 'charity', normalSide: 'C' });
  });

  it.each(['resident:', 'resident:a:b', 'programme:', 'Programme:issued', 'partner:cafe', 'bank:x', 'charity:A B', ''])(
    'refuse %j',
    (code) => {
      expect(() => classifyAccount(code)).toThrow(DomainError);
    },
  );
});

describe('validating postings', () => {
  it('accepts a balanced transaction, per asset', () => {
    expect(() =>
      validatePostings(
        [
          p('programme:issued', 'D', '100'),
          p('resident:a', 'C', '60'),
          p('resident:b', 'C', '40'),
          p('programme:x', 'D', '1.25', 'RUB'),
          p('partner:c:payable', 'C', '1.25', 'RUB'),
        ],
        scales,
      ),
    ).not.toThrow();
  });

  it('refuses an unbalanced one and says by how much', () => {
    expect(refusal(() => validatePostings([p('programme:issued', 'D', '100'), p('resident:a', 'C', '99')], scales))).toMatch(/differ by 1/);
  });

  it('does not let one asset balance another', () => {
    expect(() => validatePostings([p('programme:issued', 'D', '100'), p('resident:a', 'C', '100', 'RUB')], scales)).toThrow(/not balanced/);
  });

  it('refuses amounts finer than the asset scale, zero, negative and huge amounts, and unknown assets', () => {
    expect(() => validatePostings([p('programme:issued', 'D', '0.5'), p('resident:a', 'C', '0.5')], scales)).toThrow(/decimal places/);
    expect(() => validatePostings([p('programme:x', 'D', '0.005', 'RUB'), p('partner:c:p', 'C', '0.005', 'RUB')], scales)).toThrow(
      /decimal places/,
    );
    expect(() => validatePostings([p('programme:issued', 'D', '0'), p('resident:a', 'C', '0')], scales)).toThrow(/positive/);
    expect(() => validatePostings([p('programme:issued', 'D', '-1'), p('resident:a', 'C', '-1')], scales)).toThrow(/positive/);
    expect(() => validatePostings([p('programme:issued', 'D', '1e16'), p('resident:a', 'C', '1e16')], scales)).toThrow(/larger/);
    expect(() => validatePostings([p('programme:issued', 'D', '1', 'GOLD'), p('resident:a', 'C', '1', 'GOLD')], scales)).toThrow(
      /unknown asset/,
    );
  });

  it('keeps exact decimals where floats would drift', () => {
    const tenths = Array.from({ length: 10 }, () => p('programme:x', 'D', '0.10', 'RUB'));
    expect(() => validatePostings([...tenths, p('partner:c:p', 'C', '1.00', 'RUB')], scales)).not.toThrow();
  });

  it('needs two postings and refuses an account on both sides', () => {
    expect(() => validatePostings([p('programme:issued', 'D', '1')], scales)).toThrow(/at least 2/);
    expect(() => validatePostings([p('resident:a', 'D', '1'), p('resident:a', 'C', '1')], scales)).toThrow(/both debited and credited/);
  });
});

describe('reversals and partial posts', () => {
  it('a reversal swaps every side', () => {
    expect(reversed([p('programme:issued', 'D', '5'), p('resident:a', 'C', '5')]).map((x) => x.side)).toEqual(['C', 'D']);
  });

  it('a hold of one amount can be posted in part; anything else cannot', () => {
    const hold = [p('resident:a', 'D', '100'), p('partner:c:redeemed', 'C', '100')];
    expect(partOfHold(hold, new Decimal(40), scales).map((x) => x.amount.toFixed())).toEqual(['40', '40']);
    expect(() => partOfHold(hold, new Decimal(101), scales)).toThrow(DomainError);
    expect(() => partOfHold(hold, new Decimal(0), scales)).toThrow(DomainError);
    expect(() => partOfHold(hold, new Decimal('1.5'), scales)).toThrow(DomainError);
    const split = [p('resident:a', 'D', '100'), p('partner:c:redeemed', 'C', '60'), p('charity:f', 'C', '40')];
    expect(() => partOfHold(split, new Decimal(10), scales)).toThrow(/one amount/);
  });
});

describe('balances', () => {
  it('a balance view is in the normal direction, with holds taken from what is available', () => {
    const view = balanceView(
      { debitsPosted: new Decimal(30), creditsPosted: new Decimal(200), debitsPending: new Decimal(50), creditsPending: new Decimal(20) },
      'C',
    );
    expect(Object.fromEntries(Object.entries(view).map(([k, v]) => [k, v.toFixed()]))).toEqual({
      posted: '170',
      pendingIn: '20',
      pendingOut: '50',
      available: '120',
    });
  });
});
