import { Decimal } from '../../common/money';
import { Side } from './account';

/** What a transaction does to balances: adds to posted, reserves as pending, or releases a reservation. */
export type Effect = 'post' | 'hold' | 'release';

export interface ResolvedPosting {
  accountId: bigint;
  shard: number;
  side: Side;
  amount: Decimal;
}

/** The change to one balance row. */
export interface BalanceDelta {
  accountId: bigint;
  shard: number;
  debits: Decimal;
  credits: Decimal;
  debitsPending: Decimal;
  creditsPending: Decimal;
}

/**
 * Sums the effects of postings per balance row, sorted by (account, shard): the one order in
 * which every transaction locks balance rows, so that no two transactions deadlock.
 */
export function balanceDeltas(effects: { effect: Effect; postings: ResolvedPosting[] }[]): BalanceDelta[] {
  const rows = new Map<string, BalanceDelta>();
  const zero = new Decimal(0);
  for (const { effect, postings } of effects) {
    for (const p of postings) {
      const key = `${p.accountId}:${p.shard}`;
      const row = rows.get(key) ?? {
        accountId: p.accountId,
        shard: p.shard,
        debits: zero,
        credits: zero,
        debitsPending: zero,
        creditsPending: zero,
      };
      const field =
        effect === 'post' ? (p.side === 'D' ? 'debits' : 'credits') : p.side === 'D' ? 'debitsPending' : 'creditsPending';
      row[field] = effect === 'release' ? row[field].minus(p.amount) : row[field].plus(p.amount);
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort((a, b) =>
    a.accountId === b.accountId ? a.shard - b.shard : a.accountId < b.accountId ? -1 : 1,
  );
}

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
