import { ApiProperty } from '@nestjs/swagger';
import { getSchemaPath } from '@nestjs/swagger';
import { NOT_YET_EMITTED, WebhookEventType } from '../domain/events';

/**
 * The `data` of each event, for the OpenAPI document (domain/events.ts has the same shapes as
 * types). Webhooks bound to a partner or a source receive them without `residentId`.
 */
export class EarnEventWebhookData {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'vote-2026-0001' }) externalId: string;
  @ApiProperty({ example: 'active-citizen' }) sourceId: string;
  @ApiProperty({ example: 'vote.cast' }) type: string;
  @ApiProperty({ description: 'Unscoped webhooks only' }) residentId: string;
  @ApiProperty({ enum: ['posted', 'rejected', 'revoked'] }) status: string;
  @ApiProperty({ type: String, nullable: true, example: '20' }) points: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why it was rejected' }) reason: string | null;
  @ApiProperty({ type: String, nullable: true }) ruleId: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) transactionId: string | null;
  @ApiProperty({ format: 'date-time' }) occurredAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) processedAt: string | null;
}

export class RedemptionWebhookData {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Unscoped webhooks only' }) residentId: string;
  @ApiProperty() itemId: string;
  @ApiProperty() partnerId: string;
  @ApiProperty({ enum: ['PROMO_CODE', 'TICKET'] }) kind: string;
  @ApiProperty() quantity: number;
  @ApiProperty({ example: '150' }) pointsSpent: string;
  @ApiProperty({ enum: ['completed', 'cancelled'] }) status: string;
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The refund, once cancelled' }) refundTransactionId:
    string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) cancelledAt: string | null;
}

export class CodeRedeemedWebhookData {
  @ApiProperty({ example: 'CAFE-7F3K-Q9' }) code: string;
  @ApiProperty() itemId: string;
  @ApiProperty() partnerId: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) redemptionId: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Unscoped webhooks only' }) residentId: string | null;
  @ApiProperty({ format: 'date-time' }) redeemedAt: string;
}

export class DonationWebhookData {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Unscoped webhooks only' }) residentId: string;
  @ApiProperty() itemId: string;
  @ApiProperty({ description: 'The charity fund' }) partnerId: string;
  @ApiProperty({ example: '50' }) points: string;
  @ApiProperty({ format: 'uuid' }) transactionId: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class PointsExpiringWebhookData {
  @ApiProperty() residentId: string;
  @ApiProperty({ example: '120' }) points: string;
  @ApiProperty({ format: 'date-time' }) expiresAt: string;
  @ApiProperty({ example: 14 }) noticeDays: number;
}

export class PointsExpiredWebhookData {
  @ApiProperty() residentId: string;
  @ApiProperty({ example: '120' }) points: string;
  @ApiProperty({ format: 'date-time' }) expiredAt: string;
  @ApiProperty({ format: 'uuid' }) transactionId: string;
}

export class AwardCompletedWebhookData {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() description: string;
  @ApiProperty() rows: number;
  @ApiProperty() credited: number;
  @ApiProperty() failed: number;
  @ApiProperty({ example: '1000000' }) totalPoints: string;
  @ApiProperty({ format: 'date-time' }) completedAt: string;
}

export class FailedCheckWebhookData {
  @ApiProperty({ example: 'trial_balance_zero' }) name: string;
  @ApiProperty() detail: string;
}

export class ReconciliationFailedWebhookData {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['scheduled', 'manual'] }) trigger: string;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt: string | null;
  @ApiProperty({ type: [FailedCheckWebhookData] }) failedChecks: FailedCheckWebhookData[];
}

const EVENTS: Record<WebhookEventType, { data: new () => object; summary: string }> = {
  'earn_event.posted': { data: EarnEventWebhookData, summary: 'An earn event was posted: its points are in the resident’s balance' },
  'earn_event.rejected': {
    data: EarnEventWebhookData,
    summary: 'An earn event was rejected (at intake, when processed, or by its source)',
  },
  'earn_event.revoked': { data: EarnEventWebhookData, summary: 'A posted earn event was revoked: its points were reversed' },
  'redemption.created': { data: RedemptionWebhookData, summary: 'A resident redeemed points for an item' },
  'redemption.cancelled': { data: RedemptionWebhookData, summary: 'A redemption was cancelled and its points refunded' },
  'code.redeemed': { data: CodeRedeemedWebhookData, summary: 'A partner marked a code used' },
  'donation.created': { data: DonationWebhookData, summary: 'A resident donated points to a fund' },
  'points.expiring': { data: PointsExpiringWebhookData, summary: 'Points expire in noticeDays days (once per resident and date)' },
  'points.expired': { data: PointsExpiredWebhookData, summary: 'Points expired' },
  'award.completed': { data: AwardCompletedWebhookData, summary: 'A bulk award finished crediting' },
  'reconciliation.failed': { data: ReconciliationFailedWebhookData, summary: 'A reconciliation run failed' },
};

export const WEBHOOK_DATA_MODELS = [...new Set(Object.values(EVENTS).map((e) => e.data)), FailedCheckWebhookData];

/**
 * The outbound requests, one per event type, in the shape of an OpenAPI 3.1 `webhooks` section.
 * The document is OpenAPI 3.0 (what @nestjs/swagger 11 writes), where that member does not exist:
 * it goes in as `x-webhooks` (the name Redoc reads for 3.0 documents), beside the data schemas.
 */
export function webhooksSection(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(EVENTS).map(([type, { data, summary }]) => [
      type,
      {
        post: {
          summary,
          description:
            (NOT_YET_EMITTED.includes(type as WebhookEventType)
              ? 'Sent once the feature that produces it lands; may be subscribed to now. '
              : '') +
            'Standard Webhooks: headers `webhook-id` (the event, the same on every attempt), `webhook-timestamp` (Unix seconds), ' +
            '`webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret during a rotation, space-separated).',
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['type', 'timestamp', 'data'],
                  properties: {
                    type: { type: 'string', enum: [type] },
                    timestamp: { type: 'string', format: 'date-time', description: 'When the event happened' },
                    data: { $ref: getSchemaPath(data) },
                  },
                },
              },
            },
          },
          responses: {
            '2XX': { description: 'Received; any 2xx' },
            '410': { description: 'Gone: the webhook is disabled, nothing more is sent to it' },
            default: { description: 'Any other answer, or none within the timeout: retried with backoff for 24 hours' },
          },
        },
      },
    ]),
  );
}
