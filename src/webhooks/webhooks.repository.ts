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

/**
 * Where the outbox's positions are final, as one statement saw it: the last position drawn, then
 * the transactions writing the outbox at that moment (migration 20261204210000). Once none of
 * those is running any more, every position up to `lastSeq` is committed or rolled back.
 */
export interface FenceReading {
  lastSeq: bigint;
  writers: string[];
}

/** A round of a served webhook: the webhook as it is now (URL, scope, secrets) and its due heads. */
export interface Round {
  webhook: WebhookScope & { id: string; url: string; secret: string; previousSecret: string | null; previousSecretUntil: Date | null };
  deliveries: RoundDelivery[];
  /** the fence as the round's statement read it */
  fence: FenceReading;
  /** due heads left out because they are beyond the fence given (their positions may not be final yet) */
  waiting: number;
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
 * The queue a delivery waits in (SQL, for alias `a`): its webhook and its resident together, the
 * key of webhook_deliveries_queue_idx (migration 20261204200000). Deliveries of one queue go one
 * at a time, in event_seq order. No other index can answer a question asked by this key, so a
 * probe of one queue is planned as an index probe whatever the statistics say (on the columns
 * apart, with statistics taken while the outbox was small, the planner probed through the due
 * index and read the webhook's whole backlog per probe).
 */
const queueOf = (a: string) => `(${a}.webhook_id::text || ' ' || ${a}.order_key)`;

const CLAIM_WEBHOOKS = `
  WITH ready AS (
    -- one probe per webhook (a LATERAL with a LIMIT is planned as such): anything due at all; the
    -- holder sorts out which of it is first in its resident's queue (CLAIM_ROUND)
    SELECT w.id FROM webhooks w
    CROSS JOIN LATERAL (
      SELECT 1 FROM webhook_deliveries d
      WHERE d.webhook_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
      ORDER BY d.next_attempt_at
      LIMIT 1) due
    WHERE w.status = 'active' AND (w.dispatch_until IS NULL OR w.dispatch_until < now())
    ORDER BY w.dispatch_until NULLS FIRST, w.id
    LIMIT $1
    -- NO KEY: the weakest lock two hand-outs conflict on (a KEY SHARE of anything that may come
    -- to reference webhooks does not hold the dispatcher back)
    FOR NO KEY UPDATE OF w SKIP LOCKED
  )
  UPDATE webhooks w SET dispatch_token = gen_random_uuid(), dispatch_until = clock_timestamp() + make_interval(secs => $2)
  FROM ready
  WHERE w.id = ready.id AND (w.dispatch_until IS NULL OR w.dispatch_until < now())
  RETURNING w.id::text AS "webhookId", w.dispatch_token::text AS token`;

/**
 * A round, in one statement whose every step is bounded by the round's size, not by the backlog:
 * - `hook` renews the lease (nothing is read unless this holder still has it);
 * - `due`: the first $6 due deliveries of the webhook by the due index (an index range read with a
 *   LIMIT and no other filter: nothing for the planner to misjudge), leaving out `recording`
 *   ($5: the previous round's, sent and being recorded meanwhile);
 * - `head`: for each of them that has a resident, that resident's first pending delivery (one
 *   probe of webhook_deliveries_queue_idx each);
 * - `held`: a due delivery whose resident's first one waits for a retry waits with it (it leaves
 *   the due range, so that later rounds do not read it again: a receiver that fails holds back
 *   the residents it failed for, never the others);
 * - the round: the heads that are due, not being recorded and at or below the fence ($7: every
 *   position up to it is final, see PublishFence), and the due deliveries without a resident, the
 *   $3 earliest, each with its event (by its key);
 * - with it, the fence as it is now (webhook_publish_fence) and how many due heads wait beyond
 *   the fence given.
 */
const CLAIM_ROUND = `
  WITH hook AS (
    UPDATE webhooks w SET dispatch_until = clock_timestamp() + make_interval(secs => $4)
    WHERE w.id = $1::uuid AND w.dispatch_token = $2::uuid AND w.status = 'active'
    RETURNING w.id, w.url, w.partner_id, w.source_id, w.secret, w.previous_secret,
              (extract(epoch FROM w.previous_secret_until) * 1000)::float8 AS previous_until
  ), due AS MATERIALIZED (
    SELECT d.id, d.order_key, d.event_seq, d.next_attempt_at FROM webhook_deliveries d
    WHERE d.webhook_id = $1::uuid AND d.status = 'pending' AND d.next_attempt_at <= now()
      AND NOT (d.id = ANY ($5::uuid[])) AND EXISTS (SELECT 1 FROM hook)
    ORDER BY d.next_attempt_at
    LIMIT $6
  ), head AS MATERIALIZED (
    SELECT due.id AS due_id, h.id, h.event_seq, h.next_attempt_at FROM due CROSS JOIN LATERAL (
      SELECT e.id, e.event_seq, e.next_attempt_at FROM webhook_deliveries e
      WHERE ${queueOf('e')} = ($1::text || ' ' || due.order_key) AND e.status = 'pending'
      ORDER BY e.event_seq LIMIT 1) h
    WHERE due.order_key IS NOT NULL
  ), held AS (
    UPDATE webhook_deliveries d SET next_attempt_at = h.next_attempt_at
    FROM head h
    WHERE d.id = h.due_id AND h.next_attempt_at > now() AND d.status = 'pending' AND d.next_attempt_at < h.next_attempt_at
    RETURNING d.id
  ), round AS (
    SELECT r.id, r.next_attempt_at, r.event_seq FROM (
      SELECT due.id, due.next_attempt_at, due.event_seq FROM due WHERE due.order_key IS NULL
      UNION
      SELECT h.id, h.next_attempt_at, h.event_seq FROM head h
      WHERE h.next_attempt_at <= now() AND NOT (h.id = ANY ($5::uuid[])) AND ($7::bigint IS NULL OR h.event_seq <= $7::bigint)
    ) r
    ORDER BY r.next_attempt_at, r.event_seq
    LIMIT $3
  ), fence AS MATERIALIZED (
    SELECT f.last_seq, f.writers,
           (SELECT count(DISTINCT h.id) FROM head h WHERE h.next_attempt_at <= now() AND h.event_seq > $7::bigint)::int AS waiting
    FROM webhook_publish_fence() f
  )
  SELECT hook.id::text AS webhook_id, hook.url, hook.partner_id, hook.source_id, hook.secret, hook.previous_secret, hook.previous_until,
         fence.last_seq::text AS fence_seq, fence.writers AS fence_writers, fence.waiting,
         d.id::text AS id, d.attempts, d.order_key, d.event_seq::text AS event_seq,
         ev.id::text AS event_id, ev.type, ev.data, (extract(epoch FROM ev.created_at) * 1000)::float8 AS event_created
  -- each delivery and its event by their keys (a LATERAL with a LIMIT): a generic plan joined
  -- the events by hash, reading every event
  FROM hook CROSS JOIN fence LEFT JOIN (round r CROSS JOIN LATERAL (
    SELECT d.id, d.attempts, d.order_key, d.event_seq, d.event_id FROM webhook_deliveries d
    WHERE d.id = r.id AND d.status = 'pending' LIMIT 1) d CROSS JOIN LATERAL (
    SELECT ev.id, ev.type, ev.data, ev.created_at FROM webhook_events ev WHERE ev.id = d.event_id LIMIT 1) ev) ON true
  ORDER BY r.next_attempt_at, r.event_seq`;

/**
 * A round's outcomes in one statement. Each step is driven by the round's rows (a LATERAL probe
 * per row): with statistics taken while the outbox was small, a join the planner chose the other
 * way round read every pending delivery once per outcome.
 */
const RECORD_ROUND = `
  WITH r AS MATERIALIZED (
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
    UPDATE webhook_deliveries d SET next_attempt_at = later.next
    FROM (
      SELECT l.id, f.next FROM r f CROSS JOIN LATERAL (
        SELECT e.id FROM webhook_deliveries e
        WHERE ${queueOf('e')} = ($1::text || ' ' || f.order_key) AND e.status = 'pending'
          AND e.event_seq > f.event_seq AND e.next_attempt_at < f.next) l
      WHERE f.status = 'pending' AND f.next IS NOT NULL AND f.order_key IS NOT NULL) later
    WHERE d.id = later.id AND d.status = 'pending'
    RETURNING d.id
  )
  SELECT (SELECT count(*) FROM done)::int AS recorded`;

/** Webhooks, the outbox's events and their deliveries. The only code that knows these tables. */
@Injectable()
export class WebhooksRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Run in a transaction: the webhook's creation draws its outbox position (webhooks.outbox_from)
   * holding the staged rows' writers' lock, so that no row staged after that position is expanded
   * before the webhook is committed (and visible to the expansion).
   */
  async create(input: NewWebhook): Promise<Webhook> {
    await this.tx.client.$executeRaw`SELECT pg_advisory_xact_lock_shared(1717, 3)`;
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

  /**
   * Ends a webhook (deleted, or disabled with a reason) and cancels what it still had to receive.
   * Run in a transaction: it first waits for an expansion of the outbox that is running (which
   * may have read the webhook active), so that none writes it a delivery after its cancellation.
   */
  async end(id: string, status: 'deleted' | 'disabled', reason: string | null): Promise<void> {
    await this.tx.client.$executeRaw`SELECT pg_advisory_xact_lock(1717, 2)`;
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
   * whose outcomes are being written) and those of a resident whose position is beyond `fence`
   * (null: no fence). It looks at the first 2 × `limit` due deliveries to find them
   * (CLAIM_ROUND). Null when the hand-off is no longer this holder's (taken over after its lease
   * ran out) or the webhook is no longer active.
   */
  async claimRound(
    served: ServedWebhook,
    limit: number,
    leaseSeconds: number,
    recording: string[] = [],
    fence: bigint | null = null,
  ): Promise<Round | null> {
    const rows = await this.tx.read<{
      webhook_id: string;
      url: string;
      partner_id: string | null;
      source_id: string | null;
      secret: string;
      previous_secret: string | null;
      previous_until: number | null;
      fence_seq: string;
      fence_writers: string[];
      waiting: number;
      id: string | null;
      attempts: number;
      order_key: string | null;
      event_seq: string;
      event_id: string;
      type: string;
      data: Record<string, unknown>;
      event_created: number;
    }>('webhooks_round', CLAIM_ROUND, [
      served.webhookId,
      served.token,
      limit,
      leaseSeconds,
      arrayLiteral(recording),
      2 * limit,
      fence === null ? null : fence.toString(),
    ]);
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
      fence: { lastSeq: BigInt(w.fence_seq), writers: w.fence_writers },
      waiting: w.waiting,
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

  /**
   * Expands staged outbox rows at positions up to `upTo` (known final) into events and deliveries
   * (migration 20261209100000): at most `rows` rows, no further row once `events` events are taken.
   * Reads the staged rows' fence as it is now, and whether staged rows are left. Nothing is
   * expanded while another process expands (`staged` is then -1).
   */
  async materialize(
    upTo: bigint,
    rows: number,
    events: number,
  ): Promise<{ staged: number; events: number; left: boolean; fence: FenceReading }> {
    const [row] = await this.tx.read<{ staged: number; events: number; left_over: boolean; fence_seq: string; fence_writers: string[] }>(
      'webhooks_materialize',
      `SELECT staged, events, left_over, fence_seq::text AS fence_seq, fence_writers FROM webhook_materialize($1::bigint, $2::int, $3::int)`,
      [upTo.toString(), rows, events],
    );
    return {
      staged: row.staged,
      events: row.events,
      left: row.left_over,
      fence: { lastSeq: BigInt(row.fence_seq), writers: row.fence_writers },
    };
  }

  /**
   * Pending deliveries and the age of the oldest, for the metrics; events still staged (not yet
   * expanded into deliveries) count as pending, each once, their age from their change.
   */
  async backlog(): Promise<{ pending: number; oldestSeconds: number }> {
    const [row] = await this.tx.client.$queryRawUnsafe<{ pending: number; oldest: number | null }[]>(
      `SELECT d.pending + s.pending AS pending,
              extract(epoch FROM now() - least(d.oldest, s.oldest))::float8 AS oldest
       FROM (SELECT count(*)::int AS pending, min(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending') d,
            (SELECT coalesce(sum(events), 0)::int AS pending, min(created_at) AS oldest FROM webhook_outbox) s`,
    );
    return { pending: row.pending, oldestSeconds: row.oldest ?? 0 };
  }
}
