import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';
import { WebhookEventType } from './domain/events';
import { Delivery, DeliveryAttempt, DeliveryStatus, Webhook, WebhookStatus, WebhookWithSecrets } from './domain/webhook';

interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  partnerId: string | null;
  sourceId: string | null;
  description: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretUntil: Date | null;
  status: string;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

function withSecrets(row: WebhookRow): WebhookWithSecrets {
  return { ...row, events: row.events as WebhookEventType[], status: row.status as WebhookStatus };
}

function webhookOf(row: WebhookRow): Webhook {
  const { secret: _s, previousSecret: _p, ...rest } = withSecrets(row);
  return rest;
}

export interface NewWebhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  partnerId: string | null;
  sourceId: string | null;
  description: string | null;
  secret: string;
}

function deliveryOf(r: {
  id: string;
  webhookId: string;
  eventId: string;
  event: { type: string };
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastStatus: number | null;
  lastResponse: string | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}): Delivery {
  return {
    id: r.id,
    webhookId: r.webhookId,
    eventId: r.eventId,
    eventType: r.event.type as WebhookEventType,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt : null,
    lastAttemptAt: r.lastAttemptAt,
    lastStatus: r.lastStatus,
    lastResponse: r.lastResponse,
    lastError: r.lastError,
    deliveredAt: r.deliveredAt,
    createdAt: r.createdAt,
  };
}

/** Claimed deliveries: leased to this process for one attempt each. */
export interface ClaimedDelivery {
  id: string;
  /** the lease's end in epoch milliseconds: names this hand-off, so that a stale job can tell */
  lease: number;
}

/** Webhooks, the outbox's events and their deliveries. The only code that knows these tables. */
@Injectable()
export class WebhooksRepository {
  constructor(private readonly tx: TransactionHost) {}

  async create(input: NewWebhook): Promise<Webhook> {
    const row = await this.tx.client.webhook.create({ data: { ...input, status: 'active' } });
    return webhookOf(row);
  }

  async find(id: string): Promise<Webhook | null> {
    const row = await this.tx.client.webhook.findFirst({ where: { id, status: { not: 'deleted' } } });
    return row ? webhookOf(row) : null;
  }

  async list(afterId: string | undefined, limit: number): Promise<Webhook[]> {
    const rows = await this.tx.client.webhook.findMany({
      where: { status: { not: 'deleted' }, ...(afterId ? { id: { gt: afterId } } : {}) },
      orderBy: { id: 'asc' },
      take: limit,
    });
    return rows.map(webhookOf);
  }

  async rotate(id: string, secret: string, previousSecret: string, previousUntil: Date): Promise<Webhook> {
    const row = await this.tx.client.webhook.update({
      where: { id },
      data: { secret, previousSecret, previousSecretUntil: previousUntil, updatedAt: new Date() },
    });
    return webhookOf(row);
  }

  async findSecrets(id: string): Promise<WebhookWithSecrets | null> {
    const row = await this.tx.client.webhook.findFirst({ where: { id, status: { not: 'deleted' } } });
    return row ? withSecrets(row) : null;
  }

  /** Ends a webhook (deleted, or disabled with a reason) and cancels what it still had to receive. */
  async end(id: string, status: 'deleted' | 'disabled', reason: string | null): Promise<void> {
    await this.tx.client.webhook.updateMany({
      where: { id, status: { not: 'deleted' } },
      data: { status, disabledReason: reason, updatedAt: new Date() },
    });
    // its pending deliveries locked in id order first: two endings of one webhook take them alike
    await this.tx.client
      .$queryRaw`SELECT id FROM webhook_deliveries WHERE webhook_id = ${id}::uuid AND status = 'pending' ORDER BY id FOR UPDATE`;
    await this.tx.client.webhookDelivery.updateMany({
      where: { webhookId: id, status: 'pending' },
      data: { status: 'cancelled', leasedUntil: null },
    });
  }

  async listDeliveries(webhookId: string, before: { createdAt: Date; id: string } | undefined, limit: number): Promise<Delivery[]> {
    const rows = await this.tx.client.webhookDelivery.findMany({
      where: {
        webhookId,
        ...(before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {}),
      },
      include: { event: { select: { type: true } } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(deliveryOf);
  }

  async findDelivery(webhookId: string, id: string): Promise<Delivery | null> {
    const row = await this.tx.client.webhookDelivery.findFirst({
      where: { webhookId, id },
      include: { event: { select: { type: true } } },
    });
    return row ? deliveryOf(row) : null;
  }

  /**
   * A delivery to try once more, now: pending again and due at once. Its retry window still runs
   * from its event, so a delivery given up fails again after one more failed attempt.
   */
  async requeue(webhookId: string, id: string): Promise<boolean> {
    const count = await this.tx.client.webhookDelivery.updateMany({
      where: { webhookId, id, status: { in: ['failed', 'pending', 'delivered'] } },
      data: { status: 'pending', nextAttemptAt: new Date(), leasedUntil: null, deliveredAt: null },
    });
    return count.count === 1;
  }

  /**
   * Leases up to `limit` deliveries that are due: pending, not leased (or their lease ran out:
   * a lost job, a dead worker), the first pending one of their resident for their webhook, and
   * no more than `perEndpoint` leased at once per webhook. Many processes may call this at once:
   * the UPDATE re-checks each row after taking its lock, so a row is leased to one of them.
   */
  async claimDue(limit: number, perEndpoint: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    return this.tx.client.$queryRawUnsafe<ClaimedDelivery[]>(
      `WITH due AS (
         SELECT d.id, d.webhook_id, d.next_attempt_at FROM webhook_deliveries d
         WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
           AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries e
             WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key AND e.status = 'pending' AND e.event_seq < d.event_seq)
         ORDER BY d.next_attempt_at
         LIMIT $1 * 4
       ), busy AS (
         -- counted once per webhook (per due row, it read the webhook's whole backlog again for
         -- each: seconds per pass once thousands were pending, and 4 deliveries a pass)
         SELECT l.webhook_id, count(*) AS busy FROM webhook_deliveries l
         WHERE l.webhook_id IN (SELECT DISTINCT webhook_id FROM due) AND l.status = 'pending' AND l.leased_until >= now()
         GROUP BY l.webhook_id
       ), ranked AS (
         SELECT due.id, row_number() OVER (PARTITION BY due.webhook_id ORDER BY due.next_attempt_at) AS n, coalesce(b.busy, 0) AS busy
         FROM due LEFT JOIN busy b ON b.webhook_id = due.webhook_id
       ), chosen AS (
         SELECT id FROM ranked WHERE n + busy <= $2 LIMIT $1
       ), locked AS (
         -- a claimer never waits for a row (one being ended, or claimed by another process): it
         -- skips it, so it cannot deadlock with a webhook's deletion cancelling its deliveries
         SELECT d.id FROM webhook_deliveries d JOIN chosen c ON c.id = d.id ORDER BY d.id FOR UPDATE OF d SKIP LOCKED
       )
       -- whole milliseconds: the lease is also the job's token, compared with a JavaScript Date
       UPDATE webhook_deliveries d SET leased_until = date_trunc('milliseconds', clock_timestamp() + make_interval(secs => $3))
       FROM locked
       WHERE d.id = locked.id AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until < now())
       RETURNING d.id::text AS id, floor(extract(epoch FROM d.leased_until) * 1000)::float8 AS lease`,
      limit,
      perEndpoint,
      leaseSeconds,
    );
  }

  async loadAttempt(deliveryId: string): Promise<DeliveryAttempt | null> {
    const row = await this.tx.client.webhookDelivery.findUnique({
      where: { id: deliveryId },
      include: { event: true, webhook: true },
    });
    if (!row) return null;
    return {
      deliveryId: row.id,
      status: row.status as DeliveryStatus,
      lease: row.leasedUntil ? Math.floor(row.leasedUntil.getTime()) : null,
      attempts: row.attempts,
      createdAt: row.createdAt,
      eventId: row.event.id,
      eventType: row.event.type as WebhookEventType,
      eventData: row.event.data as Record<string, unknown>,
      eventCreatedAt: row.event.createdAt,
      webhook: withSecrets(row.webhook),
    };
  }

  /** Records an attempt: delivered, given up, or due again at `next`. Only a pending delivery changes. */
  async recordAttempt(
    id: string,
    result: {
      status: DeliveryStatus;
      at: Date;
      next: Date | null;
      httpStatus: number | null;
      response: string | null;
      error: string | null;
    },
  ): Promise<boolean> {
    const count = await this.tx.client.webhookDelivery.updateMany({
      where: { id, status: 'pending' },
      data: {
        status: result.status,
        attempts: { increment: 1 },
        lastAttemptAt: result.at,
        lastStatus: result.httpStatus,
        lastResponse: result.response,
        lastError: result.error,
        leasedUntil: null,
        ...(result.next ? { nextAttemptAt: result.next } : {}),
        ...(result.status === 'delivered' ? { deliveredAt: result.at } : {}),
      },
    });
    return count.count === 1;
  }

  /** Gives a lease back without an attempt (the webhook was ended meanwhile, or Redis took no job). */
  async release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.tx.client.webhookDelivery.updateMany({ where: { id: { in: ids }, status: 'pending' }, data: { leasedUntil: null } });
  }

  /** Pending deliveries and the age of the oldest, for the metrics. */
  async backlog(): Promise<{ pending: number; oldestSeconds: number }> {
    const [row] = await this.tx.client.$queryRawUnsafe<{ pending: number; oldest: number | null }[]>(
      `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest
       FROM webhook_deliveries WHERE status = 'pending'`,
    );
    return { pending: row.pending, oldestSeconds: row.oldest ?? 0 };
  }
}
