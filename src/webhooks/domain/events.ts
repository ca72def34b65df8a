/**
 * The events a webhook may subscribe to (API.md, "Webhooks") and the `data` each one carries.
 * Points are decimal strings, moments RFC 3339 strings, as everywhere in the API.
 */
export const WEBHOOK_EVENT_TYPES = [
  'earn_event.posted',
  'earn_event.rejected',
  'earn_event.revoked',
  'redemption.created',
  'redemption.cancelled',
  'code.redeemed',
  'donation.created',
  'points.expiring',
  'points.expired',
  'award.completed',
  'reconciliation.failed',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Types defined by the contract whose producing feature (point expiry) is not built
 * yet: a webhook may subscribe to them now, and receives them when those features land.
 */
export const NOT_YET_EMITTED: readonly WebhookEventType[] = [];

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/** earn_event.posted | rejected | revoked */
export interface EarnEventData {
  id: string;
  externalId: string;
  sourceId: string;
  type: string;
  residentId: string;
  status: 'posted' | 'rejected' | 'revoked';
  points: string | null;
  reason: string | null;
  ruleId: string | null;
  transactionId: string | null;
  occurredAt: string;
  processedAt: string | null;
}

/** redemption.created | redemption.cancelled */
export interface RedemptionData {
  id: string;
  residentId: string;
  itemId: string;
  partnerId: string;
  kind: 'PROMO_CODE' | 'TICKET';
  quantity: number;
  pointsSpent: string;
  status: 'completed' | 'cancelled';
  transactionId: string;
  refundTransactionId: string | null;
  createdAt: string;
  cancelledAt: string | null;
}

/** code.redeemed */
export interface CodeRedeemedData {
  code: string;
  itemId: string;
  partnerId: string;
  redemptionId: string | null;
  residentId: string | null;
  redeemedAt: string;
}

/** donation.created (partnerId: the charity fund) */
export interface DonationData {
  id: string;
  residentId: string;
  itemId: string;
  partnerId: string;
  points: string;
  transactionId: string;
  createdAt: string;
}

/** points.expiring: sent `noticeDays` before a date, once per resident and date */
export interface PointsExpiringData {
  residentId: string;
  points: string;
  expiresAt: string;
  noticeDays: number;
}

/** points.expired */
export interface PointsExpiredData {
  residentId: string;
  points: string;
  expiredAt: string;
  transactionId: string;
}

/** award.completed: a bulk award credited its last row (written with its status done, migration 20261202170000_awards) */
export interface AwardCompletedData {
  id: string;
  description: string;
  rows: number;
  credited: number;
  failed: number;
  totalPoints: string;
  completedAt: string;
}

/** reconciliation.failed */
export interface ReconciliationFailedData {
  id: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  failedChecks: { name: string; detail: string }[];
}

/** What a webhook receives: the Standard Webhooks payload `{type, timestamp, data}`. */
export interface WebhookPayload {
  type: WebhookEventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface WebhookScope {
  partnerId: string | null;
  sourceId: string | null;
}

/**
 * The payload as one webhook may see it: a resident's identity goes only to unscoped (city)
 * webhooks; a webhook bound to a partner or a source gets its own events without it. (Which
 * events reach a scoped webhook at all is decided when they are written: its partner's or
 * source's only.)
 */
export function payloadFor(scope: WebhookScope, type: WebhookEventType, createdAt: Date, data: Record<string, unknown>): WebhookPayload {
  const scoped = scope.partnerId !== null || scope.sourceId !== null;
  const shown = scoped ? Object.fromEntries(Object.entries(data).filter(([k]) => k !== 'residentId')) : data;
  return { type, timestamp: createdAt.toISOString(), data: shown };
}
