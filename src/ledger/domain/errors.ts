import { DomainError } from '../../common/errors';

export const ledgerInvalid = (detail: string) => new DomainError('validation_failed', detail);
export const insufficientPoints = (account: string) =>
  new DomainError('insufficient_points', `Account ${account} does not have enough available to cover this transaction`, { account });
export const invalidState = (detail: string) => new DomainError('invalid_state', detail);
