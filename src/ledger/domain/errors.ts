import { DomainError } from '../../common/errors';

export const ledgerInvalid = (detail: string) => new DomainError('validation_failed', detail);
/** `needed` and `available` (decimal strings, in the account's normal direction) when the ledger said them. */
export const insufficientPoints = (account: string, amounts?: { needed: string; available: string }) =>
  amounts
    ? new DomainError('insufficient_points', `Account ${account} has ${amounts.available} available; this needs ${amounts.needed}`, {
        account,
        needed: amounts.needed,
        available: amounts.available,
      })
    : new DomainError('insufficient_points', `Account ${account} does not have enough available to cover this transaction`, { account });
export const invalidState = (detail: string) => new DomainError('invalid_state', detail);
