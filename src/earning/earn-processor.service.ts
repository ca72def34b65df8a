import { Injectable, Logger } from '@nestjs/common';
import { newRowId } from '../common/identifiers';
import { Decimal } from '../common/money';
import { TransactionHost } from '../infra/database/transaction-host';
import { ForegroundWork } from '../infra/process/foreground-work';
import { MetricsService } from '../infra/metrics/metrics.service';
import { accrual, payDebtFirst } from '../ledger/domain/accrual';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService, NewTransaction } from '../ledger/ledger.service';
import { expiryOf } from '../ledger/domain/expiry';
import { basePoints, capPeriods, EarningRule, expiryDaysFor, underCap, withCampaigns } from './domain/earning';
import { capKey, EarningRepository, EarnEventRecord, ProcessedEvent } from './earning.repository';
import { RuleBook } from './rule-book.service';

export const EARN_TYPE = 'earn';

/**
 * Turns accepted earn events into accruals: a batch is locked (events another worker holds are
 * skipped), priced (rule, campaign, caps), and posted to the ledger in one database transaction
 * with the events' new status. Running it twice on the same events does nothing the second time.
 */
@Injectable()
export class EarnProcessor {
  private readonly logger = new Logger('EarnProcessor');

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: EarningRepository,
    private readonly rules: RuleBook,
    private readonly ledger: LedgerService,
    private readonly reads: LedgerReadService,
    private readonly metrics: MetricsService,
    private readonly foreground: ForegroundWork,
  ) {}

  /** Processes these events if they still wait; returns how many it processed. */
  processBatch(ids: string[]): Promise<number> {
    if (ids.length === 0) return Promise.resolve(0);
    // foreground work: the webhook drain gives way while earn batches are being posted
    return this.foreground.run(() => this.db.run(async () => this.process(await this.repository.lockReceived(ids))));
  }

  /**
   * Processes up to `limit` events accepted before `olderThan` that nothing processed (their job
   * was lost); events a live worker holds right now are skipped. Returns how many it processed.
   */
  processStale(olderThan: Date, limit: number): Promise<number> {
    return this.db.run(async () => this.process(await this.repository.lockStaleReceived(olderThan, limit)));
  }

  private async process(events: EarnEventRecord[]): Promise<number> {
    if (events.length === 0) return 0;
    const rules = await this.rules.byIds(events.map((e) => e.ruleId!));
    const campaigns = await this.rules.campaigns();
    const policy = await this.ledger.expiryPolicy();
    const now = new Date();

    const priced = events.map((event) => {
      const rule = rules.get(event.ruleId!)!;
      const base = basePoints(rule, event.attributes) ?? new Decimal(0);
      return { event, rule, points: withCampaigns(base, campaigns, event) };
    });
    const granted = await this.applyCaps(priced);
    const debts = await this.debtsOf(
      priced.filter((p, i) => granted[i].gt(0) && !isPending(p.event, p.rule)).map((p) => p.event.residentId),
    );

    const transactions: (NewTransaction & { id: string })[] = [];
    const outcome: ProcessedEvent[] = priced.map(({ event, rule }, i) => {
      const points = granted[i];
      if (points.isZero()) return { id: event.id, status: 'rejected', reason: 'cap_reached', points, transactionId: null };
      const pending = isPending(event, rule);
      const id = newRowId();
      transactions.push({
        id,
        type: EARN_TYPE,
        pending,
        postings: pending
          ? accrual(event.residentId, points, new Decimal(0))
          : accrual(event.residentId, points, payDebtFirst(debts, event.residentId, points)),
        description: describe(event, rule),
        metadata: { sourceId: event.sourceId, externalId: event.externalId, eventType: event.type, ruleId: rule.id },
        // a pending accrual gets its expiry when it is confirmed (posted)
        creditExpiresAt: pending
          ? undefined
          : (expiryOf(now, expiryDaysFor(rule, campaigns, event) ?? policy.afterDays, policy.roundUpTo) ?? undefined),
      });
      return { id: event.id, status: pending ? 'pending' : 'posted', reason: null, points, transactionId: id };
    });
    // the events' new status first (they point at their transactions: the reference is checked
    // at commit), the ledger last: the balance rows, which concurrent batches of the same
    // residents wait for, stay locked only from the ledger statement to the commit (which then
    // also runs the deferred reference checks: one index probe per event, under those locks)
    await this.repository.saveProcessed(outcome);
    await this.ledger.recordMany(transactions);
    // counted once committed: a batch that rolls back is processed again later
    this.db.afterCommit(() => outcome.forEach((o) => this.metrics.earnEvents.inc({ stage: 'processed', outcome: o.status })));
    return events.length;
  }

  /** Grants under each rule's daily and monthly caps (Moscow calendar), in event order. */
  private async applyCaps(priced: { event: EarnEventRecord; rule: EarningRule; points: Decimal }[]): Promise<Decimal[]> {
    const capped = priced.some(({ rule }) => rule.dailyCap || rule.monthlyCap);
    if (!capped) return priced.map((p) => p.points);
    const keys = priced.flatMap(({ event, rule }) => {
      if (!rule.dailyCap && !rule.monthlyCap) return [];
      const { day, month } = capPeriods(event.occurredAt);
      return [
        ...(rule.dailyCap ? [{ residentId: event.residentId, ruleId: rule.id, period: day }] : []),
        ...(rule.monthlyCap ? [{ residentId: event.residentId, ruleId: rule.id, period: month }] : []),
      ];
    });
    const usage = await this.repository.lockCapUsage(keys);
    const changed = new Map<string, Decimal>();
    const granted = priced.map(({ event, rule, points }) => {
      if (!rule.dailyCap && !rule.monthlyCap) return points;
      const { day, month } = capPeriods(event.occurredAt);
      const dayKey = capKey({ residentId: event.residentId, ruleId: rule.id, period: day });
      const monthKey = capKey({ residentId: event.residentId, ruleId: rule.id, period: month });
      let grant = points;
      if (rule.dailyCap) grant = underCap(grant, usage.get(dayKey)!, rule.dailyCap);
      if (rule.monthlyCap) grant = underCap(grant, usage.get(monthKey)!, rule.monthlyCap);
      for (const [key, capped] of [
        [dayKey, rule.dailyCap],
        [monthKey, rule.monthlyCap],
      ] as const) {
        if (capped && grant.gt(0)) {
          const total = usage.get(key)!.plus(grant);
          usage.set(key, total);
          changed.set(key, total);
        }
      }
      return grant;
    });
    await this.repository.saveCapUsage(changed);
    return granted;
  }

  /** What each of these residents owes, for those who owe something. */
  private async debtsOf(residentIds: string[]): Promise<Map<string, Decimal>> {
    const debts = await this.reads.residentDebts(residentIds);
    return new Map([...debts].filter(([, debt]) => debt.gt(0)));
  }
}

function isPending(event: EarnEventRecord, rule: EarningRule): boolean {
  return event.requestedStatus === 'pending' || rule.requiresConfirmation;
}

function describe(event: EarnEventRecord, rule: EarningRule): string {
  const given = event.attributes.description;
  if (typeof given === 'string' && given.trim()) return given.trim().slice(0, 200);
  return `${rule.title ?? event.type} ${event.externalId}`;
}
