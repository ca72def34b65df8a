/**
 * Domain errors carry a stable machine-readable code; one table maps each code to its HTTP
 * status, and one filter (problem.filter.ts) renders them as RFC 9457 problem+json. Services,
 * processors and the CLI throw these, never HTTP exceptions.
 */
export const ERROR_CATALOGUE = {
  validation_failed: { status: 400, title: 'Request is not valid' },
  unauthorized: { status: 401, title: 'Missing or invalid credentials' },
  forbidden: { status: 403, title: 'Not allowed for these credentials' },
  not_found: { status: 404, title: 'Not found' },
  already_exists: { status: 409, title: 'Already exists' },
  idempotency_conflict: { status: 409, title: 'Idempotency key reused with a different request' },
  insufficient_points: { status: 409, title: 'Not enough points' },
  out_of_stock: { status: 409, title: 'Out of stock' },
  limit_exceeded: { status: 409, title: 'Limit exceeded' },
  code_already_redeemed: { status: 409, title: 'Code already redeemed' },
  invalid_state: { status: 409, title: 'Not allowed in the current state' },
  code_expired: { status: 410, title: 'Code expired' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    /** Extra members of the problem document (RFC 9457 extensions), e.g. per-field errors. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string) => new DomainError('not_found', `${what} was not found`);
export const invalidInput = (detail: string, extensions?: Record<string, unknown>) =>
  new DomainError('validation_failed', detail, extensions);
