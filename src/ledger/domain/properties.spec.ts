import fc from 'fast-check';
import { DomainError } from '../../common/errors';
import { Decimal } from '../../common/money';
import { Side } from './account';
import { balanceView } from './balance';
import { partOfHold, Posting, reversed, validatePostings } from './transaction';

/**
 * Properties of the pure ledger domain over random transactions (fast-check). Balance changes are
 * derived by the ledger's one door in SQL (ledger_record): test/ledger/model.spec.ts checks them
 * against an in-memory model.
 */

const scales = new Map([
  ['POINTS', 0],
  ['RUB', 2],
]);
const ACCOUNTS = ['resident:anna', 'resident:boris', 'programme:issued', 'partner:cafe:redeemed', 'charity:fund'];

const refusalCode = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
};

/** An amount exact at the asset's scale, from the smallest unit to a large one. */
const amountOf = (asset: string) =>
  fc.bigInt({ min: 1n, max: 10n ** 12n }).map((units) => new Decimal(units.toString()).div(10 ** scales.get(asset)!));

/** A balanced transaction: one or more transfers, each from one account to another, per asset. */
const transfer = fc
  .tuple(fc.constantFrom('POINTS', 'RUB'), fc.nat({ max: ACCOUNTS.length - 1 }), fc.integer({ min: 1, max: ACCOUNTS.length - 1 }))
  .chain(([asset, from, offset]) =>
    amountOf(asset).map((amount): Posting[] => [
      { account: ACCOUNTS[from], asset, side: 'D', amount },
      { account: ACCOUNTS[(from + offset) % ACCOUNTS.length], asset, side: 'C', amount },
    ]),
  );
// an account debited in one transfer and credited in another is refused: keep one direction per account and asset
const oneWay = (postings: Posting[]) =>
  new Set(postings.map((p) => `${p.account}/${p.asset}`)).size === new Set(postings.map((p) => `${p.account}/${p.asset}/${p.side}`)).size;
const balanced = fc
  .array(transfer, { minLength: 1, maxLength: 5 })
  .map((ts) => ts.flat())
  .filter(oneWay);

describe('postings validation', () => {
  it('accepts every balanced transaction of known accounts and exact amounts', () => {
    fc.assert(fc.property(balanced, (postings) => expect(refusalCode(() => validatePostings(postings, scales))).toBeNull()));
  });

  it('refuses it once any one amount changes by the smallest unit', () => {
    fc.assert(
      fc.property(balanced, fc.nat(), fc.boolean(), (postings, pick, up) => {
        const i = pick % postings.length;
        const unit = new Decimal(1).div(10 ** scales.get(postings[i].asset)!);
        const changed = postings.map((p, j) => (j === i ? { ...p, amount: up ? p.amount.plus(unit) : p.amount.minus(unit) } : p));
        expect(refusalCode(() => validatePostings(changed, scales))).toBe('validation_failed');
      }),
    );
  });

  it('refuses an amount finer than its asset allows', () => {
    fc.assert(
      fc.property(balanced, (postings) => {
        const finer = postings.map((p) => ({ ...p, amount: p.amount.plus(new Decimal(1).div(10 ** (scales.get(p.asset)! + 1))) }));
        expect(refusalCode(() => validatePostings(finer, scales))).toBe('validation_failed');
      }),
    );
  });

  it('a reversal of a valid transaction is valid, and reversing twice gives the original back', () => {
    fc.assert(
      fc.property(balanced, (postings) => {
        expect(refusalCode(() => validatePostings(reversed(postings), scales))).toBeNull();
        expect(reversed(reversed(postings))).toEqual(postings);
        expect(reversed(postings).every((r, i) => r.side !== postings[i].side && r.amount.eq(postings[i].amount))).toBe(true);
      }),
    );
  });
});

describe('balance view', () => {
  it("a balance is available = posted − pending out, in the account's normal direction", () => {
    const amount = fc.bigInt({ min: 0n, max: 10n ** 9n }).map((n) => new Decimal(n.toString()));
    fc.assert(
      fc.property(amount, amount, amount, amount, fc.constantFrom<Side>('D', 'C'), (d, c, dp, cp, side) => {
        const v = balanceView({ debitsPosted: d, creditsPosted: c, debitsPending: dp, creditsPending: cp }, side);
        const flipped = balanceView({ debitsPosted: c, creditsPosted: d, debitsPending: cp, creditsPending: dp }, side === 'D' ? 'C' : 'D');
        expect(v.posted.toFixed()).toBe((side === 'C' ? c.minus(d) : d.minus(c)).toFixed());
        expect(v.available.toFixed()).toBe(v.posted.minus(v.pendingOut).toFixed());
        expect([v.pendingIn.toFixed(), v.pendingOut.toFixed()]).toEqual(
          side === 'C' ? [cp.toFixed(), dp.toFixed()] : [dp.toFixed(), cp.toFixed()],
        );
        expect(flipped).toEqual(v);
      }),
    );
  });
});

describe('partial settlement', () => {
  const hold = fc
    .tuple(fc.constantFrom('POINTS', 'RUB'), fc.nat({ max: ACCOUNTS.length - 1 }), fc.integer({ min: 1, max: ACCOUNTS.length - 1 }))
    .chain(([asset, from, offset]) =>
      amountOf(asset).map((amount): Posting[] => [
        { account: ACCOUNTS[from], asset, side: 'D', amount },
        { account: ACCOUNTS[(from + offset) % ACCOUNTS.length], asset, side: 'C', amount },
      ]),
    );

  it('settles any part from the smallest unit to the whole, still balanced, on the same accounts', () => {
    fc.assert(
      fc.property(hold, fc.double({ min: 0, max: 1, noNaN: true }), (postings, fraction) => {
        const unit = new Decimal(1).div(10 ** scales.get(postings[0].asset)!);
        const part = Decimal.max(
          unit,
          postings[0].amount.times(fraction).toDecimalPlaces(scales.get(postings[0].asset)!, Decimal.ROUND_DOWN),
        );
        const settled = partOfHold(postings, part, scales);
        expect(settled.map((p) => [p.account, p.side, p.amount.toFixed()])).toEqual(
          postings.map((p) => [p.account, p.side, part.toFixed()]),
        );
        expect(refusalCode(() => validatePostings(settled, scales))).toBeNull();
      }),
    );
  });

  it('refuses nothing, more than held, or finer than the asset allows', () => {
    fc.assert(
      fc.property(hold, (postings) => {
        const unit = new Decimal(1).div(10 ** scales.get(postings[0].asset)!);
        for (const part of [new Decimal(0), postings[0].amount.plus(unit), unit.div(10)]) {
          expect(refusalCode(() => partOfHold(postings, part, scales))).toBe('validation_failed');
        }
      }),
    );
  });

  it('refuses a hold whose postings carry different amounts', () => {
    fc.assert(
      fc.property(hold, hold, (a, b) => {
        fc.pre(!a[0].amount.eq(b[0].amount) && a[0].asset === b[0].asset);
        expect(refusalCode(() => partOfHold([...a, ...b], a[0].amount.div(2), scales))).toBe('validation_failed');
      }),
    );
  });
});
