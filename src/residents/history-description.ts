import type { HistoryEntry } from '../ledger/domain/ledger-transaction';

/**
 * A line of a resident's history in the resident's words: what was earned for what, bought,
 * donated, refunded, taken back or expired, rather than the journal's type (a confirmed report is
 * a posted hold, "hold.posted", in the journal).
 */
export function residentDescription(e: Pick<HistoryEntry, 'type' | 'originType' | 'description' | 'amount'>): string {
  const what = e.description ?? null;
  // a posting of a hold, a reversal, a cancellation or a revocation reads as what it settles or undoes
  const kind = e.originType ?? e.type;
  const down = e.amount.isNegative();
  if (e.type === 'expiry' || kind === 'expiry') return 'Points expired';
  if (kind === 'earn') return down ? `Taken back: ${what ?? 'points earned earlier'}` : `Earned for: ${what ?? 'taking part in city life'}`;
  if (kind === 'redeem') return down ? `Bought: ${what ?? 'a reward'}` : `Refunded: ${what ?? 'a cancelled purchase'}`;
  if (kind === 'donate') return down ? `Donated: ${what ?? 'to a charity fund'}` : `Donation returned: ${what ?? ''}`.trim();
  if (kind === 'adjustment') return `${down ? 'Correction' : 'Added by the programme'}: ${what ?? 'an adjustment'}`;
  if (kind === 'award') return `Prize: ${what ?? 'an award'}`;
  return what ?? (down ? 'Points spent' : 'Points received');
}
