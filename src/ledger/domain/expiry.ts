import { ledgerInvalid } from './errors';

/**
 * The programme's expiry policy: points credited from now on expire `afterDays` days later
 * (none: never), rounded up to the end of that day or of its month (Moscow calendar); residents
 * hear of it `noticeDays` before (0: no notice). A changed policy applies to points credited
 * afterwards, never to points already held (a lot keeps the expiry it was made with).
 */
export interface ExpiryPolicy {
  afterDays: number | null;
  roundUpTo: 'day' | 'month_end';
  noticeDays: number;
}

export const NO_EXPIRY: ExpiryPolicy = { afterDays: null, roundUpTo: 'day', noticeDays: 0 };

/** A hundred years: anything longer is a mistake, not a policy. */
export const MAX_EXPIRY_DAYS = 36_600;
export const MAX_NOTICE_DAYS = 3_660;

const DAY_MS = 86_400_000;
/** Moscow has kept UTC+3 all year since 2014. */
const MOSCOW_OFFSET_MS = 3 * 3_600_000;

/** Checks a policy as given (an admin's request): whole days within sane bounds. */
export function validPolicy(input: { afterDays?: unknown; roundUpTo?: unknown; noticeDays?: unknown }): ExpiryPolicy {
  const { afterDays = null, roundUpTo = 'day', noticeDays = 0 } = input;
  if (afterDays !== null && !validDays(afterDays, 1, MAX_EXPIRY_DAYS)) {
    throw ledgerInvalid(`afterDays must be null or a whole number of days from 1 to ${MAX_EXPIRY_DAYS}`);
  }
  if (roundUpTo !== 'day' && roundUpTo !== 'month_end') throw ledgerInvalid('roundUpTo must be "day" or "month_end"');
  if (!validDays(noticeDays, 0, MAX_NOTICE_DAYS))
    throw ledgerInvalid(`noticeDays must be a whole number of days from 0 to ${MAX_NOTICE_DAYS}`);
  return { afterDays, roundUpTo, noticeDays };
}

export function validDays(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * When points credited at `at` expire after `afterDays` days: at the end of that (Moscow) day,
 * or of its month. Null days: never.
 */
export function expiryOf(at: Date, afterDays: number | null, roundUpTo: ExpiryPolicy['roundUpTo']): Date | null {
  if (afterDays === null) return null;
  // the Moscow calendar day `afterDays` after the crediting, as a UTC midnight
  const local = new Date(at.getTime() + MOSCOW_OFFSET_MS + afterDays * DAY_MS);
  const endLocal =
    roundUpTo === 'month_end'
      ? Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1)
      : Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  return new Date(endLocal - MOSCOW_OFFSET_MS);
}
