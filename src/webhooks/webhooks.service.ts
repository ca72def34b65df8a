import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AdminActionsService } from '../audit/admin-actions.service';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { isForeignKeyViolation } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { isWebhookEventType, WebhookEventType } from './domain/events';
import { newWebhookSecret } from './domain/secrets';
import { Delivery, Webhook } from './domain/webhook';
import { SecretBox } from './secret-box';
import { UnsafeUrlError, WebhookSender } from './webhook-sender';
import { WebhooksRepository } from './webhooks.repository';

export interface NewWebhookInput {
  url: string;
  events: string[];
  partnerId?: string;
  sourceId?: string;
  description?: string;
}

/** Programme admins' side of webhooks: subscriptions, secrets, and what was delivered. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly transactions: TransactionHost,
    private readonly adminActions: AdminActionsService,
    private readonly sender: WebhookSender,
    private readonly secrets: SecretBox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Registers a webhook; its secret is returned here once and never again. */
  async create(actor: string, input: NewWebhookInput): Promise<{ webhook: Webhook; secret: string }> {
    const events = checkEvents(input.events);
    if (input.partnerId && input.sourceId) throw invalidInput('a webhook is bound to a partner or a source, not both');
    await this.checkUrl(input.url);
    const secret = newWebhookSecret();
    try {
      const webhook = await this.transactions.run(async () => {
        const created = await this.repository.create({
          id: randomUUID(),
          url: input.url,
          events,
          partnerId: input.partnerId ?? null,
          sourceId: input.sourceId ?? null,
          description: input.description ?? null,
          secret: this.secrets.seal(secret),
        });
        await this.adminActions.record({
          actor,
          action: 'webhook.created',
          subject: `webhook:${created.id}`,
          details: { url: created.url, events: created.events.join(','), partnerId: created.partnerId, sourceId: created.sourceId },
        });
        return created;
      });
      return { webhook, secret };
    } catch (error) {
      if (isForeignKeyViolation(error))
        throw input.partnerId ? notFound(`partner ${input.partnerId}`) : notFound(`source ${input.sourceId}`);
      throw error;
    }
  }

  async get(id: string): Promise<Webhook> {
    const webhook = await this.repository.find(id);
    if (!webhook) throw notFound(`webhook ${id}`);
    return webhook;
  }

  async list(limit: number, cursor?: string): Promise<Page<Webhook>> {
    const after = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.list(after?.id, limit + 1);
    return pageOf(
      rows,
      limit,
      (w) => w,
      (w) => ({ id: w.id }),
    );
  }

  /** Deletes a webhook: nothing more is sent to it, and what it still had to receive is cancelled. */
  async delete(actor: string, id: string): Promise<Webhook> {
    const webhook = await this.get(id);
    await this.transactions.run(async () => {
      await this.repository.end(id, 'deleted', null);
      await this.adminActions.record({ actor, action: 'webhook.deleted', subject: `webhook:${id}` });
    });
    return { ...webhook, status: 'deleted' };
  }

  /**
   * A new secret, returned once. The old one keeps signing beside it (two signatures in
   * `webhook-signature`) for the overlap, so that the receiver can switch without losing a message.
   */
  async rotateSecret(
    actor: string,
    id: string,
    overlapHours = this.config.webhooks.rotationOverlapHours,
  ): Promise<{ webhook: Webhook; secret: string }> {
    const secret = newWebhookSecret();
    const webhook = await this.transactions.run(async () => {
      const current = await this.repository.findSecrets(id);
      if (!current) throw notFound(`webhook ${id}`);
      const until = new Date(Date.now() + overlapHours * 3_600_000);
      const rotated = await this.repository.rotate(id, this.secrets.seal(secret), current.secret, until);
      await this.adminActions.record({
        actor,
        action: 'webhook.secret-rotated',
        subject: `webhook:${id}`,
        details: { previousSecretUntil: until.toISOString() },
      });
      return rotated;
    });
    return { webhook, secret };
  }

  async deliveries(webhookId: string, limit: number, cursor?: string): Promise<Page<Delivery>> {
    await this.get(webhookId);
    const before = decodeCursor<{ createdAt: string; id: string }>(cursor, ['createdAt', 'id']);
    const rows = await this.repository.listDeliveries(
      webhookId,
      before ? { createdAt: new Date(before.createdAt), id: before.id } : undefined,
      limit + 1,
    );
    return pageOf(
      rows,
      limit,
      (d) => d,
      (d) => ({ createdAt: d.createdAt.toISOString(), id: d.id }),
    );
  }

  /** Sends a delivery again, now (a failed one, or a delivered one the receiver lost). */
  async retry(actor: string, webhookId: string, deliveryId: string): Promise<Delivery> {
    const webhook = await this.get(webhookId);
    if (webhook.status !== 'active') throw new DomainError('invalid_state', `webhook ${webhookId} is ${webhook.status}`);
    const delivery = await this.transactions.run(async () => {
      if (!(await this.repository.requeue(webhookId, deliveryId))) {
        const existing = await this.repository.findDelivery(webhookId, deliveryId);
        if (!existing) throw notFound(`delivery ${deliveryId}`);
        throw new DomainError('invalid_state', `delivery ${deliveryId} is ${existing.status}`);
      }
      await this.adminActions.record({ actor, action: 'webhook.delivery-retried', subject: `webhook-delivery:${deliveryId}` });
      return (await this.repository.findDelivery(webhookId, deliveryId))!;
    });
    return delivery;
  }

  /** Deliveries not yet delivered nor given up, and how long the oldest has waited. */
  backlog(): Promise<{ pending: number; oldestSeconds: number }> {
    return this.repository.backlog();
  }

  /** http(s) only, and (unless WEBHOOK_ALLOW_PRIVATE) a host whose every address is public. */
  private async checkUrl(url: string): Promise<void> {
    try {
      await this.sender.resolve(url);
    } catch (error) {
      if (error instanceof UnsafeUrlError)
        throw invalidInput(`url: ${error.message}`, { errors: [{ field: 'url', messages: [error.message] }] });
      throw error;
    }
  }
}

function checkEvents(events: string[]): WebhookEventType[] {
  const unknown = events.filter((e) => !isWebhookEventType(e));
  if (unknown.length > 0) throw invalidInput(`unknown event type(s): ${unknown.join(', ')}`);
  return [...new Set(events)] as WebhookEventType[];
}
