import { RESIDENT_ID } from '../../common/identifiers';
import { ledgerInvalid } from './errors';

export type Side = 'D' | 'C';

/**
 * What an account code means. Codes name their owner:
 * - `resident:{residentId}`: a resident's points; credit-normal; may never go below zero.
 * - `resident:{residentId}:debt`: points a resident owes after a revoked accrual; debit-normal.
 * - `programme:{name}`: the programme's own accounts (`issued`, `adjustments`, …); debit-normal,
 *   except `programme:expired`, which receives expired points.
 * - `partner:{partnerId}:{name}` (e.g. `partner:coffee-chain:redeemed`) and `charity:{fundId}`:
 *   where spent points go; credit-normal.
 * System accounts are unbounded and sharded: see docs/accounting.md.
 */
export interface AccountSpec {
  code: string;
  owner: 'resident' | 'programme' | 'partner' | 'charity';
  normalSide: Side;
  floorZero: boolean;
  shards: number;
}

/** How many balance rows an unbounded system account spreads its running balance over. */
export const SYSTEM_ACCOUNT_SHARDS = 16;

const SLUG = '[a-z0-9][a-z0-9_-]{0,63}';
const PROGRAMME = new RegExp(`^programme:(${SLUG})$`);
const PARTNER = new RegExp(`^partner:(${SLUG}):(${SLUG})$`);
const CHARITY = new RegExp(`^charity:(${SLUG})$`);
const CREDIT_NORMAL_PROGRAMME_ACCOUNTS = new Set(['expired']);

export function residentAccount(residentId: string): string {
  return `resident:${residentId}`;
}

/** What a resident owes after a revoked accrual they had already spent; debit-normal, never below zero. */
export function residentDebtAccount(residentId: string): string {
  return `resident:${residentId}:debt`;
}

export function classifyAccount(code: string): AccountSpec {
  if (code.startsWith('resident:') && code.endsWith(':debt')) {
    const residentId = code.slice('resident:'.length, -':debt'.length);
    if (!RESIDENT_ID.test(residentId)) throw ledgerInvalid(`account ${code}: not a valid resident id`);
    return { code, owner: 'resident', normalSide: 'D', floorZero: true, shards: 1 };
  }
  if (code.startsWith('resident:')) {
    const residentId = code.slice('resident:'.length);
    if (!RESIDENT_ID.test(residentId)) throw ledgerInvalid(`account ${code}: not a valid resident id`);
    return { code, owner: 'resident', normalSide: 'C', floorZero: true, shards: 1 };
  }
  const programme = PROGRAMME.exec(code);
  if (programme) {
    const normalSide: Side = CREDIT_NORMAL_PROGRAMME_ACCOUNTS.has(programme[1]) ? 'C' : 'D';
    return { code, owner: 'programme', normalSide, floorZero: false, shards: SYSTEM_ACCOUNT_SHARDS };
  }
  if (PARTNER.test(code)) return { code, owner: 'partner', normalSide: 'C', floorZero: false, shards: SYSTEM_ACCOUNT_SHARDS };
  if (CHARITY.test(code)) return { code, owner: 'charity', normalSide: 'C', floorZero: false, shards: SYSTEM_ACCOUNT_SHARDS };
  throw ledgerInvalid(
    `account ${JSON.stringify(code)} is not a known account code (resident:{id}, programme:{name}, partner:{id}:{name}, charity:{id})`,
  );
}

