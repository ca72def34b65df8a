import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { arrayLiteral } from '../infra/database/array-literal';
import { TransactionHost } from '../infra/database/transaction-host';
import { Campaign, EarnEventStatus, EarningRule } from './domain/earning';

export interface EarnEventRecord {
  id: string;
  sourceId: string;
  externalId: string;
  type: string;
  residentId: string;
  occurredAt: Date;
  requestedStatus: 'confirmed' | 'pending';
  attributes: Record<string, unknown>;
  status: EarnEventStatus;
  reason: string | null;
  ruleId: string | null;
  points: Decimal | null;
  transactionId: string | null;
  receivedAt: Date;
  processedAt: Date | null;
}

export type NewEarnEvent = Omit<EarnEventRecord, 'points' | 'transactionId' | 'receivedAt' | 'processedAt'>;

export interface ProcessedEvent {
  id: string;
  status: EarnEventStatus;
  reason: string | null;
  points: Decimal;
  transactionId: string | null;
}

export type RuleInput = Omit<EarningRule, 'createdAt' | 'updatedAt'>;

@Injectable()
export class EarningRepository {
  constructor(private readonly db: TransactionHost) {}

  /** Events accepted and not yet processed, with the age of the oldest: the processing lag. */
  async backlog(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const [row] = await this.db.client.$queryRaw<{ count: number; age: number | null }[]>`
      SELECT count(*)::int AS count, extract(epoch FROM now() - min(received_at))::float8 AS age
      FROM earn_events WHERE status = 'received'`;
    return { count: row.count, oldestAgeSeconds: Math.max(0, row.age ?? 0) };
  }

  async createRule(rule: RuleInput): Promise<EarningRule> {
    return toRule(await this.db.client.earningRule.create({ data: rule }));
  }

  async updateRule(id: string, changes: Partial<RuleInput>): Promise<EarningRule> {
    return toRule(await this.db.client.earningRule.update({ where: { id }, data: { ...changes, updatedAt: new Date() } }));
  }

  async findRule(id: string): Promise<EarningRule | null> {
    const row = await this.db.client.earningRule.findUnique({ where: { id } });
    return row && toRule(row);
  }

  async listRules(filter: { sourceId?: string; afterId?: string }, take: number): Promise<EarningRule[]> {
    const rows = await this.db.client.earningRule.findMany({
      where: { sourceId: filter.sourceId, ...(filter.afterId ? { id: { gt: filter.afterId } } : {}) },
      orderBy: { id: 'asc' },
      take,
    });
    return rows.map(toRule);
  }

  async allRules(): Promise<EarningRule[]> {
    return (await this.db.client.earningRule.findMany()).map(toRule);
  }

  async createCampaign(campaign: Campaign): Promise<Campaign> {
    return toCampaign(await this.db.client.campaign.create({ data: campaign }));
  }

  async listCampaigns(afterId: string | undefined, take: number): Promise<Campaign[]> {
    const rows = await this.db.client.campaign.findMany({
      where: afterId ? { id: { gt: afterId } } : undefined,
      orderBy: { id: 'asc' },
      take,
    });
    return rows.map(toCampaign);
  }

  async allCampaigns(): Promise<Campaign[]> {
    return (await this.db.client.campaign.findMany()).map(toCampaign);
  }

  /** Stores new events; returns the external ids actually inserted (the others were seen before). */
  async insertEvents(events: NewEarnEvent[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const rows = await this.db.client.$queryRaw<{ external_id: string }[]>`
      INSERT INTO earn_events (id, source_id, external_id, type, resident_id, occurred_at, requested_status, attributes, status, reason, rule_id, processed_at)
      SELECT e.id, e.source_id, e.external_id, e.type, e.resident_id, e.occurred_at, e.requested_status, e.attributes, e.status, e.reason, e.rule_id,
             CASE WHEN e.status = 'received' THEN NULL ELSE now() END
      FROM unnest(${arrayLiteral(events.map((e) => e.id))}::uuid[], ${arrayLiteral(events.map((e) => e.sourceId))}::text[], ${arrayLiteral(events.map((e) => e.externalId))}::text[],
                  ${arrayLiteral(events.map((e) => e.type))}::text[], ${arrayLiteral(events.map((e) => e.residentId))}::text[], ${arrayLiteral(events.map((e) => e.occurredAt.toISOString()))}::timestamptz[],
                  ${arrayLiteral(events.map((e) => e.requestedStatus))}::text[], ${arrayLiteral(events.map((e) => JSON.stringify(e.attributes)))}::jsonb[],
                  ${arrayLiteral(events.map((e) => e.status))}::text[], ${arrayLiteral(events.map((e) => e.reason))}::text[], ${arrayLiteral(events.map((e) => e.ruleId))}::text[])
        AS e(id, source_id, external_id, type, resident_id, occurred_at, requested_status, attributes, status, reason, rule_id)
      ON CONFLICT (source_id, external_id) DO NOTHING
      RETURNING external_id`;
    return new Set(rows.map((r) => r.external_id));
  }

  async findEvent(sourceId: string, externalId: string, lock = false): Promise<EarnEventRecord | null> {
    const rows = await this.db.client.$queryRaw<RawEvent[]>`
      SELECT ${EVENT_COLUMNS} FROM earn_events WHERE source_id = ${sourceId} AND external_id = ${externalId}
      ${lock ? Prisma.sql`FOR UPDATE` : Prisma.empty}`;
    return toEvents(rows)[0] ?? null;
  }

  /**
   * Locks the given events that still wait for processing, in arrival order; events another
   * worker holds are skipped. Each is probed by its key: the index of waiting events keeps an
   * entry for every event processed since the table was last vacuumed, and a plan that read it
   * (the planner's choice for `id = ANY(...) AND status = 'received'`) grew with them.
   */
  async lockReceived(ids: string[]): Promise<EarnEventRecord[]> {
    // each id once: a second probe of a row this transaction has locked would return it again
    const unique = [...new Set(ids)];
    return toEvents(
      await this.db.client.$queryRaw<RawEvent[]>`
        SELECT ${EVENT_COLUMNS} FROM unnest(${unique}::uuid[]) AS x(event_id)
        CROSS JOIN LATERAL (SELECT * FROM earn_events WHERE id = x.event_id AND status = 'received' FOR UPDATE SKIP LOCKED) e
        ORDER BY seq`,
    );
  }

  /** Locks up to `limit` events accepted before `olderThan` and still unprocessed, skipping locked ones. */
  async lockStaleReceived(olderThan: Date, limit: number): Promise<EarnEventRecord[]> {
    return toEvents(
      await this.db.client.$queryRaw<RawEvent[]>`
        SELECT ${EVENT_COLUMNS} FROM earn_events WHERE status = 'received' AND received_at < ${olderThan}
        ORDER BY received_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
    );
  }

  async saveProcessed(events: ProcessedEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.client.$executeRaw`
      UPDATE earn_events e SET status = u.status, reason = u.reason, points = u.points, transaction_id = u.transaction_id, processed_at = now()
      FROM unnest(${arrayLiteral(events.map((e) => e.id))}::uuid[], ${arrayLiteral(events.map((e) => e.status))}::text[], ${arrayLiteral(events.map((e) => e.reason))}::text[],
                  ${arrayLiteral(events.map((e) => e.points.toFixed()))}::numeric[], ${arrayLiteral(events.map((e) => e.transactionId))}::uuid[])
        AS u(id, status, reason, points, transaction_id)
      WHERE e.id = u.id`;
  }

  async setStatus(id: string, status: EarnEventStatus, changes: { transactionId?: string; reason?: string } = {}): Promise<void> {
    await this.db.client.earnEvent.update({ where: { id }, data: { status, ...changes } });
  }

  /** Cap usage rows for these keys, created if missing and locked, in key order. */
  async lockCapUsage(keys: { residentId: string; ruleId: string; period: string }[]): Promise<Map<string, Decimal>> {
    if (keys.length === 0) return new Map();
    const sorted = [...new Map(keys.map((k) => [capKey(k), k])).values()].sort((a, b) => (capKey(a) < capKey(b) ? -1 : 1));
    const residents = sorted.map((k) => k.residentId);
    const rules = sorted.map((k) => k.ruleId);
    const periods = sorted.map((k) => k.period);
    await this.db.client.$executeRaw`
      INSERT INTO earn_cap_usage (resident_id, rule_id, period)
      SELECT * FROM unnest(${residents}::text[], ${rules}::text[], ${periods}::text[]) ON CONFLICT DO NOTHING`;
    const rows = await this.db.client.$queryRaw<{ resident_id: string; rule_id: string; period: string; points: string }[]>`
      SELECT u.resident_id, u.rule_id, u.period, u.points::text FROM earn_cap_usage u
      JOIN unnest(${residents}::text[], ${rules}::text[], ${periods}::text[]) AS k(resident_id, rule_id, period)
        ON u.resident_id = k.resident_id AND u.rule_id = k.rule_id AND u.period = k.period
      ORDER BY u.resident_id, u.rule_id, u.period
      FOR UPDATE OF u`;
    return new Map(rows.map((r) => [capKey({ residentId: r.resident_id, ruleId: r.rule_id, period: r.period }), new Decimal(r.points)]));
  }

  async saveCapUsage(usage: Map<string, Decimal>): Promise<void> {
    if (usage.size === 0) return;
    const entries = [...usage.entries()].map(([key, points]) => ({ ...parseCapKey(key), points }));
    await this.db.client.$executeRaw`
      UPDATE earn_cap_usage u SET points = k.points
      FROM unnest(${entries.map((e) => e.residentId)}::text[], ${entries.map((e) => e.ruleId)}::text[],
                  ${entries.map((e) => e.period)}::text[], ${entries.map((e) => e.points.toFixed())}::numeric[])
        AS k(resident_id, rule_id, period, points)
      WHERE u.resident_id = k.resident_id AND u.rule_id = k.rule_id AND u.period = k.period`;
  }
}

function toEvents(rows: RawEvent[]): EarnEventRecord[] {
  return rows.map((r) => ({
    id: r.id,
    sourceId: r.source_id,
    externalId: r.external_id,
    type: r.type,
    residentId: r.resident_id,
    occurredAt: r.occurred_at,
    requestedStatus: r.requested_status as EarnEventRecord['requestedStatus'],
    attributes: (r.attributes ?? {}) as Record<string, unknown>,
    status: r.status as EarnEventStatus,
    reason: r.reason,
    ruleId: r.rule_id,
    points: r.points === null ? null : new Decimal(r.points),
    transactionId: r.transaction_id,
    receivedAt: r.received_at,
    processedAt: r.processed_at,
  }));
}

const EVENT_COLUMNS = Prisma.raw(
  'id::text, source_id, external_id, type, resident_id, occurred_at, requested_status, attributes, status, ' +
    'reason, rule_id, points::text, transaction_id::text, received_at, processed_at',
);

interface RawEvent {
  id: string;
  source_id: string;
  external_id: string;
  type: string;
  resident_id: string;
  occurred_at: Date;
  requested_status: string;
  attributes: unknown;
  status: string;
  reason: string | null;
  rule_id: string | null;
  points: string | null;
  transaction_id: string | null;
  received_at: Date;
  processed_at: Date | null;
}

export function capKey(k: { residentId: string; ruleId: string; period: string }): string {
  return `${k.residentId}|${k.ruleId}|${k.period}`;
}

function parseCapKey(key: string): { residentId: string; ruleId: string; period: string } {
  const [residentId, ruleId, period] = key.split('|');
  return { residentId, ruleId, period };
}

type Dec = Prisma.Decimal;
const dec = (v: Dec) => new Decimal(v.toString());
const decOrNull = (v: Dec | null) => (v === null ? null : dec(v));

function toRule(r: {
  id: string;
  sourceId: string;
  eventType: string;
  title: string | null;
  points: Dec;
  minPoints: Dec | null;
  maxPoints: Dec | null;
  requiresConfirmation: boolean;
  dailyCap: Dec | null;
  monthlyCap: Dec | null;
  validFrom: Date | null;
  validTo: Date | null;
  expiresAfterDays: number | null;
  createdAt: Date;
  updatedAt: Date;
}): EarningRule {
  return {
    ...r,
    points: dec(r.points),
    minPoints: decOrNull(r.minPoints),
    maxPoints: decOrNull(r.maxPoints),
    dailyCap: decOrNull(r.dailyCap),
    monthlyCap: decOrNull(r.monthlyCap),
  };
}

function toCampaign(c: Omit<Campaign, 'multiplier'> & { multiplier: Dec; createdAt?: Date }): Campaign {
  return {
    id: c.id,
    name: c.name,
    sourceId: c.sourceId,
    eventType: c.eventType,
    multiplier: dec(c.multiplier),
    validFrom: c.validFrom,
    validTo: c.validTo,
    expiresAfterDays: c.expiresAfterDays,
  };
}
