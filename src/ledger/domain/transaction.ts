import { Decimal, MAX_AMOUNT } from '../../common/money';
import { classifyAccount, Side } from './account';
import { ledgerInvalid } from './errors';

/** One side of a transaction: an amount debited or credited to an account, in one asset. */
export interface Posting {
  account: string;
  asset: string;
  side: Side;
  amount: Decimal;
}

export const MIN_POSTINGS = 2;
export const MAX_POSTINGS = 200;

/**
 * Checks a set of postings before anything is written: at least two, amounts positive and
 * exact at their asset's scale, known account codes, and debits equal to credits per asset.
 * `scales` maps each known asset to its number of decimals.
 */
export function validatePostings(postings: Posting[], scales: ReadonlyMap<string, number>): void {
  if (postings.length < MIN_POSTINGS) throw ledgerInvalid(`a transaction needs at least ${MIN_POSTINGS} postings`);
  if (postings.length > MAX_POSTINGS) throw ledgerInvalid(`a transaction has at most ${MAX_POSTINGS} postings`);
  const net = new Map<string, Decimal>();
  const sides = new Map<string, Side>();
  postings.forEach((p, i) => {
    const scale = scales.get(p.asset);
    if (scale === undefined) throw ledgerInvalid(`postings[${i}]: unknown asset ${p.asset}`);
    if (!p.amount.isFinite() || p.amount.lte(0)) throw ledgerInvalid(`postings[${i}]: amount must be positive`);
    if (p.amount.gt(MAX_AMOUNT)) throw ledgerInvalid(`postings[${i}]: amount is larger than ${MAX_AMOUNT.toFixed()}`);
    if (p.amount.decimalPlaces() > scale) {
      throw ledgerInvalid(`postings[${i}]: ${p.asset} has ${scale} decimal places, ${p.amount.toFixed()} has more`);
    }
    classifyAccount(p.account);
    const key = `${p.account}\u0000${p.asset}`;
    const seen = sides.get(key);
    if (seen && seen !== p.side) throw ledgerInvalid(`postings[${i}]: account ${p.account} is both debited and credited`);
    sides.set(key, p.side);
    const signed = p.side === 'D' ? p.amount : p.amount.neg();
    net.set(p.asset, (net.get(p.asset) ?? new Decimal(0)).plus(signed));
  });
  for (const [asset, difference] of net) {
    if (!difference.isZero()) {
      throw ledgerInvalid(`transaction is not balanced: ${asset} debits and credits differ by ${difference.abs().toFixed()}`);
    }
  }
}

/** The postings with every one swapped: the reversal of a transaction. */
export function reversed(postings: Posting[]): Posting[] {
  return postings.map((p) => ({ ...p, side: p.side === 'D' ? 'C' : 'D' }));
}

/**
 * The postings that settle a hold for a smaller amount. Only a hold whose postings all carry one
 * amount (a plain transfer from one account to another) can be posted in part: anything else
 * has no single obvious way to shrink.
 */
export function partOfHold(postings: Posting[], amount: Decimal, scales: ReadonlyMap<string, number>): Posting[] {
  const amounts = new Set(postings.map((p) => p.amount.toFixed()));
  if (amounts.size !== 1) throw ledgerInvalid('only a hold whose postings carry one amount can be posted in part');
  const full = postings[0].amount;
  if (amount.lte(0) || amount.gt(full)) throw ledgerInvalid(`amount must be positive and at most the held ${full.toFixed()}`);
  const scale = scales.get(postings[0].asset) ?? 0;
  if (amount.decimalPlaces() > scale) throw ledgerInvalid(`amount has more than ${scale} decimal places`);
  return postings.map((p) => ({ ...p, amount }));
}
