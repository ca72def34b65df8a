import { Injectable } from '@nestjs/common';
import { arrayLiteral } from '../infra/database/array-literal';
import { TransactionHost } from '../infra/database/transaction-host';
import { WebhookEventType, WebhookScope } from './domain/events';
import { Delivery, DeliveryStatus, Webhook, WebhookStatus, WebhookWithSecrets } from './domain/webhook';

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

/** A webhook handed to one process to serve (see claimWebhooks): `token` names the hand-off. */
export interface ServedWebhook {
  webhookId: string;
  token: string;
}

/** One delivery of a round: the head of its resident's queue to its webhook, with its event. */
export interface RoundDelivery {
  id: string;
  attempts: number;
  /** the resident (order key) and the event's position, to hold back the resident's later events on failure */
  orderKey: string | null;
  eventSeq: string;
  eventId: string;
  eventType: WebhookEventType;
  eventData: Record<string, unknown>;
  eventCreatedAt: Date;
}

/** A round of a served webhook: the webhook as it is now (URL, scope, secrets) and its due heads. */
export interface Round {
  webhook: WebhookScope & { id: string; url: string; secret: string; previousSecret: string | null; previousSecretUntil: Date | null };
  deliveries: RoundDelivery[];
}

/** What one attempt of a round ended with, to be recorded with the others of its round. */
export interface RoundOutcome {
  id: string;
  status: DeliveryStatus;
  at: Date;
  /** the next attempt (status pending), else null */
  next: Date | null;
  httpStatus: number | null;
  response: string | null;
  error: string | null;
  orderKey: string | null;
  eventSeq: string;
}

/**
 * A due delivery that is the first pending one of its resident for its webhook (SQL, alias d), or
 * one without a resident (unordered). A correlated subquery, probed per row on the order index
 * with the row's own key: as a NOT EXISTS it was planned as an anti join, and a prepared
 * statement's generic plan (made while the table looked empty) read the webhook's whole backlog
 * for every candidate row.
 */
const IS_HEAD = `(d.order_key IS NULL OR d.event_seq = (
  SELECT e.event_seq FROM webhook_deliveries e
  WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key AND e.status = 'pending'
  ORDER BY e.event_seq LIMIT 1))`;

const CLAIM_WEBHOOKS = `
  WITH ready AS (
    -- one probe per webhook (a LATERAL with a LIMIT is planned as such): as an EXISTS, a
    -- prepared statement's generic plan read every pending delivery twice in hash joins
    SELECT w.id FROM webhooks w
    CROSS JOIN LATERAL (
      SELECT 1 FROM webhook_deliveries d
      WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now() AND ${IS_HEAD}
      ORDER BY d.next_attempt_at
      LIMIT 1) due
    WHERE w.status = 'active' AND (w.dispatch_until IS NULL OR w.dispatch_until < now())
    ORDER BY w.dispatch_until NULLS FIRST, w.id
    LIMIT $1
    -- NO KEY: the outbox's inserts hold KEY SHARE locks on their webhook (the foreign key) until
    -- their transaction ends; a plain FOR UPDATE would be skipped for as long as ingest runs
    FOR NO KEY UPDATE OF w SKIP LOCKED
  )
  UPDATE webhooks w SET dispatch_token = gen_random_uuid(), dispatch_until = clock_timestamp() + make_interval(secs => $2)
  FROM ready
  WHERE w.id = ready.id AND (w.dispatch_until IS NULL OR w.dispatch_until < now())
  RETURNING w.id::text AS "webhookId", w.dispatch_token::text AS token`;

const CLAIM_ROUND = `
  WITH hook AS (
    UPDATE webhooks w SET dispatch_until = clock_timestamp() + make_interval(secs => $4)
    WHERE w.id = $1::uuid AND w.dispatch_token = $2::uuid AND w.status = 'active'
    RETURNING w.id, w.url, w.partner_id, w.source_id, w.secret, w.previous_secret,
              (extract(epoch FROM w.previous_secret_until) * 1000)::float8 AS previous_until
  ), heads AS (
    SELECT d.id, d.event_id, d.event_seq, d.order_key, d.attempts, d.next_attempt_at FROM webhook_deliveries d
    WHERE d.webhook_id = $1::uuid AND d.status = 'pending' AND d.next_attempt_at <= now() AND ${IS_HEAD}
      -- the previous round's, sent and being recorded meanwhile (their residents' next ones are
      -- not heads until that is committed)
      AND NOT (d.id = ANY ($5::uuid[]))
    ORDER BY d.next_attempt_at
    LIMIT $3
  )
  SELECT hook.id::text AS webhook_id, hook.url, hook.partner_id, hook.source_id, hook.secret, hook.previous_secret, hook.previous_until,
         h.id::text AS id, h.attempts, h.order_key, h.event_seq::text AS event_seq,
         ev.id::text AS event_id, ev.type, ev.data, (extract(epoch FROM ev.created_at) * 1000)::float8 AS event_created
  -- each head's event by its key (LATERAL with a LIMIT): a generic plan joined them by hash, reading every event
  FROM hook LEFT JOIN (heads h CROSS JOIN LATERAL (
    SELECT ev.id, ev.type, ev.data, ev.created_at FROM webhook_events ev WHERE ev.id = h.event_id LIMIT 1) ev) ON true
  ORDER BY h.next_attempt_at, h.event_seq`;

const RECORD_ROUND = `
  WITH r AS (
    SELECT r.* FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::text[], $11::bigint[])
      AS r(id, status, at, next, http_status, response, error, order_key, event_seq)
    -- only the holder of the webhook's hand-off records: a process that lost it (it stalled past
    -- its lease) has its outcomes dropped, and the new holder sends those deliveries again
    WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = $1::uuid AND w.dispatch_token = $2::uuid)
  ), done AS (
    UPDATE webhook_deliveries d SET
      status = r.status, attempts = d.attempts + 1, last_attempt_at = r.at, last_status = r.http_status,
      last_response = r.response, last_error = r.error, leased_until = NULL,
      next_attempt_at = coalesce(r.next, d.next_attempt_at),
      delivered_at = CASE WHEN r.status = 'delivered' THEN r.at ELSE d.delivered_at END
    FROM r WHERE d.id = r.id AND d.status = 'pending'
    RETURNING d.id
  ), held AS (
    -- a head that failed holds its resident's later deliveries back until its next attempt: they
    -- leave the due range, so that neither the dispatcher nor a round reads past them again
    UPDATE webhook_deliveries d SET next_attempt_at = r.next
    FROM r
    WHERE r.status = 'pending' AND r.next IS NOT NULL AND d.webhook_id = $1::uuid AND d.order_key = r.order_key
      AND d.status = 'pending' AND d.event_seq > r.event_seq AND d.next_attempt_at < r.next
    RETURNING d.id
  )
  SELECT (SELECT count(*) FROM done)::int AS recorded`;

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
   * Hands out up to `limit` webhooks that have a due head delivery and are served by nobody (never
   * handed out, given back, or their holder's lease ran out: a lost job, a dead worker). Many
   * processes may call this at once: a webhook is locked and re-checked, so it goes to one of them.
   */
  async claimWebhooks(limit: number, leaseSeconds: number): Promise<ServedWebhook[]> {
    return this.tx.read<ServedWebhook>('webhooks_claim', CLAIM_WEBHOOKS, [limit, leaseSeconds]);
  }

  /**
   * The next round of a served webhook: renews its lease for `leaseSeconds` and reads up to `limit`
   * due deliveries that are each the first pending one of their resident (so that two events of
   * one resident are never in flight at once), leaving out `recording` (the previous round's,
   * whose outcomes are being written). Null when the hand-off is no longer this holder's
   * (taken over after its lease ran out) or the webhook is no longer active.
   */
  async claimRound(served: ServedWebhook, limit: number, leaseSeconds: number, recording: string[] = []): Promise<Round | null> {
    const rows = await this.tx.read<{
      webhook_id: string;
      url: string;
      partner_id: string | null;
      source_id: string | null;
      secret: string;
      previous_secret: string | null;
      previous_until: number | null;
      id: string | null;
      attempts: number;
      order_key: string | null;
      event_seq: string;
      event_id: string;
      type: string;
      data: Record<string, unknown>;
      event_created: number;
    }>('webhooks_round', CLAIM_ROUND, [served.webhookId, served.token, limit, leaseSeconds, arrayLiteral(recording)]);
    if (rows.length === 0) return null;
    const w = rows[0];
    return {
      webhook: {
        id: w.webhook_id,
        url: w.url,
        partnerId: w.partner_id,
        sourceId: w.source_id,
        secret: w.secret,
        previousSecret: w.previous_secret,
        previousSecretUntil: w.previous_until === null ? null : new Date(w.previous_until),
      },
      deliveries: rows
        .filter((r) => r.id !== null)
        .map((r) => ({
          id: r.id!,
          attempts: r.attempts,
          orderKey: r.order_key,
          eventSeq: r.event_seq,
          eventId: r.event_id,
          eventType: r.type as WebhookEventType,
          eventData: typeof r.data === 'string' ? (JSON.parse(r.data) as Record<string, unknown>) : r.data,
          eventCreatedAt: new Date(r.event_created),
        })),
    };
  }

  /** Records a round's attempts in one statement, if the hand-off is still this holder's; returns how many changed. */
  async recordRound(served: ServedWebhook, outcomes: RoundOutcome[]): Promise<number> {
    if (outcomes.length === 0) return 0;
    const [row] = await this.tx.read<{ recorded: number }>('webhooks_record', RECORD_ROUND, [
      served.webhookId,
      served.token,
      arrayLiteral(outcomes.map((o) => o.id)),
      arrayLiteral(outcomes.map((o) => o.status)),
      arrayLiteral(outcomes.map((o) => o.at.toISOString())),
      arrayLiteral(outcomes.map((o) => o.next?.toISOString() ?? null)),
      arrayLiteral(outcomes.map((o) => o.httpStatus)),
      arrayLiteral(outcomes.map((o) => o.response)),
      arrayLiteral(outcomes.map((o) => o.error)),
      arrayLiteral(outcomes.map((o) => o.orderKey)),
      arrayLiteral(outcomes.map((o) => o.eventSeq)),
    ]);
    return row.recorded;
  }

  /** Gives a served webhook back (its holder found nothing more due, or used its time): any process may take it at once. */
  async releaseWebhook(served: ServedWebhook): Promise<void> {
    await this.tx.read(
      'webhooks_release',
      `UPDATE webhooks SET dispatch_token = NULL, dispatch_until = NULL WHERE id = $1::uuid AND dispatch_token = $2::uuid`,
      [served.webhookId, served.token],
    );
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
