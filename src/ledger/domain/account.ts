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

const DEBT_SUFFIX = ':debt';
const REDEEMED = 'redeemed';

/** The prefix every account of an owner kind starts with. */
export const OWNER_PREFIX = {
  resident: 'resident:',
  programme: 'programme:',
  partner: 'partner:',
  charity: 'charity:',
} as const satisfies Record<AccountSpec['owner'], string>;

// Account codes are built here and nowhere else: callers, queries and the read side take them
// (and the prefixes that select an owner's accounts) from these functions.

export function residentAccount(residentId: string): string {
  return `${OWNER_PREFIX.resident}${residentId}`;
}

/** What a resident owes after a revoked accrual they had already spent; debit-normal, never below zero. */
export function residentDebtAccount(residentId: string): string {
  return `${residentAccount(residentId)}${DEBT_SUFFIX}`;
}

export function programmeAccount(name: string): string {
  return `${OWNER_PREFIX.programme}${name}`;
}

/** Where accruals come from: debited by every point issued, credited back by every revoked one. */
export const ISSUED_ACCOUNT = programmeAccount('issued');

/** Where expired points go: credited by every `expiry` transaction. */
export const EXPIRED_ACCOUNT = programmeAccount('expired');

/** A programme admin's manual corrections of residents' points. */
export const ADJUSTMENTS_ACCOUNT = programmeAccount('adjustments');

export function partnerAccount(partnerId: string, name: string): string {
  return `${partnerAccountsPrefix(partnerId)}${name}`;
}

/** The partner account points spent with that partner go to. */
export function partnerRedeemedAccount(partnerId: string): string {
  return partnerAccount(partnerId, REDEEMED);
}

/** The charity fund account donated points go to. */
export function charityAccount(fundId: string): string {
  return `${OWNER_PREFIX.charity}${fundId}`;
}

/**
 * How the read side selects accounts by kind, as literal parts to compare with (`starts_with`,
 * `right`), never as LIKE patterns: an id may hold `_`, which LIKE reads as a wildcard.
 */
export const ACCOUNT_SELECTORS = {
  residentPrefix: OWNER_PREFIX.resident,
  debtSuffix: DEBT_SUFFIX,
  partnerPrefix: OWNER_PREFIX.partner,
  redeemedSuffix: `:${REDEEMED}`,
  charityPrefix: OWNER_PREFIX.charity,
  programmePrefix: OWNER_PREFIX.programme,
  issued: ISSUED_ACCOUNT,
  expired: EXPIRED_ACCOUNT,
} as const;

/** Every account of one partner (`partner:{partnerId}:…`) starts with this. */
export function partnerAccountsPrefix(partnerId: string): string {
  return `${OWNER_PREFIX.partner}${partnerId}:`;
}

/** The fund of a charity account, or null for any other account. */
export function charityFundOf(code: string): string | null {
  return CHARITY.test(code) ? code.slice(OWNER_PREFIX.charity.length) : null;
}

export function classifyAccount(code: string): AccountSpec {
  if (code.startsWith(OWNER_PREFIX.resident) && code.endsWith(DEBT_SUFFIX)) {
    const residentId = code.slice(OWNER_PREFIX.resident.length, -DEBT_SUFFIX.length);
    if (!RESIDENT_ID.test(residentId)) throw ledgerInvalid(`account ${code}: not a valid resident id`);
    return { code, owner: 'resident', normalSide: 'D', floorZero: true, shards: 1 };
  }
  if (code.startsWith(OWNER_PREFIX.resident)) {
    const residentId = code.slice(OWNER_PREFIX.resident.length);
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
