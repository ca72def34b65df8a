import { WebhookEventType } from './events';

export type WebhookStatus = 'active' | 'disabled' | 'deleted';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  partnerId: string | null;
  sourceId: string | null;
  description: string | null;
  status: WebhookStatus;
  disabledReason: string | null;
  /** until when the secret before the last rotation still signs too */
  previousSecretUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A webhook with its stored secrets, for signing only (never answered). */
export interface WebhookWithSecrets extends Webhook {
  secret: string;
  previousSecret: string | null;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: WebhookEventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatus: number | null;
  lastResponse: string | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** What an attempt ended with. */
export type AttemptOutcome =
  | { kind: 'delivered'; status: number; response: string }
  | { kind: 'gone'; status: number; response: string }
  | { kind: 'failed'; status: number | null; response: string | null; error: string | null; unsafeUrl?: boolean };
