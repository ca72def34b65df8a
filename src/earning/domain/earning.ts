import { Decimal } from '../../common/money';

export interface EarningRule {
  id: string;
  sourceId: string;
  eventType: string;
  title: string | null;
  points: Decimal;
  minPoints: Decimal | null;
  maxPoints: Decimal | null;
  requiresConfirmation: boolean;
  dailyCap: Decimal | null;
  monthlyCap: Decimal | null;
  validFrom: Date | null;
  validTo: Date | null;
  /** days until what this rule pays expires (overrides campaigns and the expiry policy); null: theirs */
  expiresAfterDays?: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Campaign {
  id: string;
  name: string;
  sourceId: string | null;
  eventType: string | null;
  multiplier: Decimal;
  validFrom: Date;
  validTo: Date;
  /** days until what this campaign pays expires (overrides the expiry policy, not a rule's own); null: none */
  expiresAfterDays?: number | null;
}

export type EarnEventStatus = 'received' | 'pending' | 'posted' | 'rejected' | 'revoked';

/** Why an event earns nothing: stable reasons a participation service can act on. */
export type RejectReason = 'no_rule' | 'rule_not_valid' | 'points_out_of_range' | 'cap_reached' | 'rejected_by_source';

export function isValidAt(rule: { validFrom: Date | null; validTo: Date | null }, at: Date): boolean {
  return (!rule.validFrom || rule.validFrom <= at) && (!rule.validTo || at < rule.validTo);
}

/**
 * The rule for an event: among the source's rules for its type, one valid when the event
 * happened (the newest, if windows overlap). `undefined` with a reason when there is none.
 */
export function ruleFor(rules: EarningRule[], eventType: string, occurredAt: Date): { rule: EarningRule } | { reason: RejectReason } {
  const candidates = rules.filter((r) => r.eventType === eventType);
  if (candidates.length === 0) return { reason: 'no_rule' };
  const valid = candidates.filter((r) => isValidAt(r, occurredAt)).sort((a, b) => +b.createdAt - +a.createdAt);
  return valid.length ? { rule: valid[0] } : { reason: 'rule_not_valid' };
}

/**
 * The base points of an event: the rule's points, or, for a rule with a range (a city task worth
 * 50 to 15,000 by task), the event's `attributes.points` when it is a whole number in the range.
 */
export function basePoints(rule: EarningRule, attributes: Record<string, unknown>): Decimal | null {
  if (!rule.minPoints || !rule.maxPoints) return rule.points;
  const raw = attributes.points;
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  if (!/^\d{1,15}$/.test(String(raw))) return null;
  const points = new Decimal(String(raw));
  return points.gte(rule.minPoints) && points.lte(rule.maxPoints) ? points : null;
}

/**
 * Campaign bonus: the largest multiplier of the campaigns that match the event when it happened
 * (campaigns do not stack), and the result rounded down to whole points: 15 × 1.5 = 22.
 */
export function withCampaigns(
  points: Decimal,
  campaigns: Campaign[],
  event: { sourceId: string; type: string; occurredAt: Date },
): Decimal {
  const matching = campaigns.filter(
    (c) =>
      (!c.sourceId || c.sourceId === event.sourceId) &&
      (!c.eventType || c.eventType === event.type) &&
      c.validFrom <= event.occurredAt &&
      event.occurredAt < c.validTo,
  );
  const multiplier = matching.reduce((best, c) => Decimal.max(best, c.multiplier), new Decimal(1));
  return points.times(multiplier).floor();
}

/**
 * How many days until an accrual expires, if its rule or a matching campaign says (the rule
 * first, then the matching campaign with the shortest); null: the expiry policy decides.
 */
export function expiryDaysFor(
  rule: EarningRule,
  campaigns: Campaign[],
  event: { sourceId: string; type: string; occurredAt: Date },
): number | null {
  if (rule.expiresAfterDays) return rule.expiresAfterDays;
  const days = campaigns
    .filter(
      (c) =>
        Boolean(c.expiresAfterDays) &&
        (!c.sourceId || c.sourceId === event.sourceId) &&
        (!c.eventType || c.eventType === event.type) &&
        c.validFrom <= event.occurredAt &&
        event.occurredAt < c.validTo,
    )
    .map((c) => c.expiresAfterDays!);
  return days.length > 0 ? Math.min(...days) : null;
}

const MOSCOW = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Moscow', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar day and month of a moment in Moscow, as cap period keys: D2026-11-22, M2026-11. */
export function capPeriods(at: Date): { day: string; month: string } {
  const date = MOSCOW.format(at); // YYYY-MM-DD
  return { day: `D${date}`, month: `M${date.slice(0, 7)}` };
}

/**
 * How much of `points` a cap still allows, given what was already granted in the period:
 * all of it, the rest up to the cap, or nothing (cap reached).
 */
export function underCap(points: Decimal, granted: Decimal, cap: Decimal | null): Decimal {
  if (!cap) return points;
  return Decimal.max(0, Decimal.min(points, cap.minus(granted)));
}
