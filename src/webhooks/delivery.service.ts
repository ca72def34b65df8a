import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { TransactionHost } from '../infra/database/transaction-host';
import { payloadFor } from './domain/events';
import { nextAttemptAt, RetryPolicy } from './domain/retry';
import { AttemptOutcome } from './domain/webhook';
import { SecretBox } from './secret-box';
import { WebhookMetrics } from './webhook-metrics';
import { WebhookSender } from './webhook-sender';
import { WebhooksRepository } from './webhooks.repository';

/**
 * One delivery attempt: read the delivery, send it, record what happened. Runs outside any
 * business transaction; the HTTP call holds no database connection. Called by the queue consumer
 * (any worker) or the in-process runner.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger('WebhookDelivery');
  private readonly policy: RetryPolicy;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionHost,
    private readonly sender: WebhookSender,
    private readonly secrets: SecretBox,
    private readonly metrics: WebhookMetrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.policy = {
      baseMs: config.webhooks.retryBaseMs,
      maxMs: config.webhooks.retryMaxMs,
      giveUpAfterMs: config.webhooks.retryHours * 3_600_000,
    };
  }

  /**
   * `lease` names the hand-off this attempt was queued by: when the delivery has been leased
   * again since (its job was thought lost and queued anew), this one is stale and does nothing.
   */
  async attempt(deliveryId: string, lease?: number): Promise<void> {
    const attempt = await this.repository.loadAttempt(deliveryId);
    if (!attempt || attempt.status !== 'pending') return;
    if (lease !== undefined && attempt.lease !== lease) return;
    const { webhook } = attempt;
    if (webhook.status !== 'active') {
      await this.repository.end(webhook.id, webhook.status === 'deleted' ? 'deleted' : 'disabled', webhook.disabledReason);
      return;
    }
    const now = new Date();
    const secrets = [this.secrets.open(webhook.secret)];
    if (webhook.previousSecret && webhook.previousSecretUntil && webhook.previousSecretUntil > now) {
      secrets.push(this.secrets.open(webhook.previousSecret));
    }
    const payload = payloadFor(webhook, attempt.eventType, attempt.eventCreatedAt, attempt.eventData);
    const stop = this.metrics.duration.startTimer();
    const outcome = await this.sender.send(webhook.url, { id: attempt.eventId, timestamp: now, body: JSON.stringify(payload), secrets });
    stop();
    await this.record(attempt.deliveryId, attempt.attempts + 1, attempt.eventCreatedAt, webhook.id, outcome);
  }

  private async record(deliveryId: string, attempts: number, since: Date, webhookId: string, outcome: AttemptOutcome): Promise<void> {
    const at = new Date();
    const clip = (text: string | null, n: number) => (text === null ? null : text.slice(0, n));
    if (outcome.kind === 'delivered') {
      await this.repository.recordAttempt(deliveryId, {
        status: 'delivered',
        at,
        next: null,
        httpStatus: outcome.status,
        response: clip(outcome.response, 1000),
        error: null,
      });
      this.metrics.attempts.inc({ outcome: 'delivered' });
      return;
    }
    if (outcome.kind === 'gone') {
      // 410 Gone: the receiver says this endpoint is no more; stop sending it anything
      await this.transactions.run(async () => {
        await this.repository.recordAttempt(deliveryId, {
          status: 'failed',
          at,
          next: null,
          httpStatus: outcome.status,
          response: clip(outcome.response, 1000),
          error: null,
        });
        await this.repository.end(webhookId, 'disabled', 'the receiver answered 410 Gone');
      });
      this.metrics.attempts.inc({ outcome: 'gone' });
      this.logger.warn(`webhook ${webhookId} disabled: its receiver answered 410 Gone`);
      return;
    }
    const next = nextAttemptAt(this.policy, attempts, since, at);
    await this.repository.recordAttempt(deliveryId, {
      status: next ? 'pending' : 'failed',
      at,
      next,
      httpStatus: outcome.status,
      response: clip(outcome.response, 1000),
      error: clip(outcome.error, 500),
    });
    this.metrics.attempts.inc({ outcome: !next ? 'gave_up' : outcome.unsafeUrl ? 'unsafe_url' : 'failed' });
  }
}
