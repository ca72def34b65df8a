import { Decimal } from '../../common/money';
import { Posting } from './transaction';

/**
 * A transaction as the ledger shows it. `status`: a posted transaction is `posted`; a pending one
 * is `pending` until it is settled, then `posted`, `voided` or `expired`; the record that voided
 * or expired a hold is `void`.
 */
export type TransactionStatus = 'posted' | 'pending' | 'voided' | 'expired' | 'void';

export interface LedgerTransaction {
  id: string;
  type: string;
  status: TransactionStatus;
  postings: Posting[];
  metadata: Record<string, unknown>;
  description: string | null;
  pendingId: string | null;
  settledBy: string | null;
  reversesId: string | null;
  reversedBy: string | null;
  expiresAt: Date | null;
  effectiveAt: Date;
  createdAt: Date;
  /** when just recorded: what each account that may not go negative has available now */
  availableAfter?: ReadonlyMap<string, Decimal>;
}

export interface AccountBalance {
  account: string;
  asset: string;
  posted: Decimal;
  pendingIn: Decimal;
  pendingOut: Decimal;
  available: Decimal;
}

export interface HistoryEntry {
  transactionId: string;
  type: string;
  /** in the account's normal direction: negative when the balance went down */
  amount: Decimal;
  balanceAfter: Decimal | null;
  description: string | null;
  /** the type of the transaction this one settles or reverses, if any */
  originType: string | null;
  createdAt: Date;
}

export const EXPIRE_TYPE = 'hold.expired';
export const VOID_TYPE = 'hold.voided';
export const POST_TYPE = 'hold.posted';
export const REVERSAL_TYPE = 'reversal';
