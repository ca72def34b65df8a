import { Injectable, Logger } from '@nestjs/common';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { newRowId } from '../common/identifiers';
import { Decimal } from '../common/money';
import { TransactionHost } from '../infra/database/transaction-host';
import { MetricsService } from '../infra/metrics/metrics.service';
import { ISSUED_ACCOUNT, residentAccount, residentDebtAccount } from '../ledger/domain/account';
import { accrual } from '../ledger/domain/accrual';
import { invalidState } from '../ledger/domain/errors';
import { Posting } from '../ledger/domain/transaction';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService } from '../ledger/ledger.service';
import { basePoints, capPeriods, expiryDaysFor, RejectReason, ruleFor } from './domain/earning';
import { EARN_TYPE, EarnProcessor } from './earn-processor.service';
import { EarnQueue } from './earn-queue';
import { capKey, EarningRepository, EarnEventRecord, NewEarnEvent } from './earning.repository';
import { RuleBook } from './rule-book.service';

export interface EarnEventInput {
  externalId: string;
  type: string;
  residentId: string;
  occurredAt: Date;
  status?: 'confirmed' | 'pending';
  attributes?: Record<string, unknown>;
}

export interface IntakeResult {
  externalId: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  reason?: RejectReason;
}

/** How far in the future an event may say it happened (clocks differ a little). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
export const MAX_BATCH = 1000;
/** The type of the void of a hold that was confirmed as a new accrual paying a debt. */
export const CONFIRMED_WITH_DEBT = 'earn.confirmed';

/** The earning side: intake of earn events from participation services, and their lifecycle. */
@Injectable()
export class EarningService {
  private readonly logger = new Logger('Earning');

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: EarningRepository,
    private readonly rules: RuleBook,
    private readonly queue: EarnQueue,
    private readonly processor: EarnProcessor,
    private readonly ledger: LedgerService,
    private readonly reads: LedgerReadService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Accepts a batch: each event is accepted (stored, to be accrued exactly once), a duplicate
   * (this source sent this externalId before, or earlier in the batch), or rejected with a reason.
   * Accepted events are durable before this returns; then they are queued.
   */
  async accept(sourceId: string, events: EarnEventInput[]): Promise<IntakeResult[]> {
    if (events.length < 1 || events.length > MAX_BATCH) throw invalidInput(`a batch has 1 to ${MAX_BATCH} events`);
    const latest = Date.now() + MAX_CLOCK_SKEW_MS;
    events.forEach((e, i) => {
      if (e.occurredAt.getTime() > latest) throw invalidInput(`events[${i}].occurredAt is in the future`);
    });
    const rules = await this.rules.forSource(sourceId);
    const seen = new Set<string>();
    const results: IntakeResult[] = [];
    const rows: NewEarnEvent[] = [];
    for (const e of events) {
      if (seen.has(e.externalId)) {
        results.push({ externalId: e.externalId, status: 'duplicate' });
        continue;
      }
      seen.add(e.externalId);
      const attributes = e.attributes ?? {};
      const found = ruleFor(rules, e.type, e.occurredAt);
      let reason: RejectReason | undefined = 'reason' in found ? found.reason : undefined;
      if (!reason && 'rule' in found && !basePoints(found.rule, attributes)) reason = 'points_out_of_range';
      rows.push({
        id: newRowId(),
        sourceId,
        externalId: e.externalId,
        type: e.type,
        residentId: e.residentId,
        occurredAt: e.occurredAt,
        requestedStatus: e.status ?? 'confirmed',
        attributes,
        status: reason ? 'rejected' : 'received',
        reason: reason ?? null,
        ruleId: 'rule' in found ? found.rule.id : null,
      });
      results.push({ externalId: e.externalId, status: reason ? 'rejected' : 'accepted', ...(reason ? { reason } : {}) });
    }
    const inserted = await this.repository.insertEvents(rows);
    for (const r of results) {
      if (r.status !== 'duplicate' && !inserted.has(r.externalId)) {
        r.status = 'duplicate';
        delete r.reason;
      }
    }
    for (const r of results) this.metrics.earnEvents.inc({ stage: 'intake', outcome: r.status });
    const accepted = rows.filter((r) => r.status === 'received' && inserted.has(r.externalId)).map((r) => r.id);
    if (accepted.length > 0) {
      await this.queue.enqueue(accepted).catch((error: Error) => {
        // stored is what counts: the sweeper processes what could not be queued
        this.logger.warn(`${accepted.length} accepted event(s) not queued (${error.message}); the sweeper will take them`);
      });
    }
    return results;
  }

  async get(sourceId: string, externalId: string): Promise<EarnEventRecord> {
    const event = await this.repository.findEvent(sourceId, externalId);
    if (!event) throw notFound(`earn event ${externalId}`);
    return event;
  }

  /**
   * pending → posted: the pending points become spendable. A resident in debt pays it off
   * first, as with any accrual: then the hold is voided and the accrual recorded anew with the
   * debt's share (the event then points at that new transaction).
   */
  confirm(sourceId: string, externalId: string): Promise<EarnEventRecord> {
    return this.db.run(async () => {
      const event = await this.lockProcessed(sourceId, externalId);
      if (event.status !== 'pending') throw invalidState(`earn event ${externalId} is ${event.status}, not pending`);
      const holdId = event.transactionId!;
      const metadata = { externalId, action: 'confirm' };
      // the confirmed points expire as the rule, a campaign or the policy says now, at posting
      const creditExpiresAt = (await this.confirmedExpiry(event)) ?? undefined;
      let transactionId: string | undefined;
      // the debt is read without a lock (the ledger locks in its one order); if an earn batch
      // pays it off meanwhile, the ledger refuses to take the debt below zero and this tries again
      for (let attempt = 1; !transactionId; attempt++) {
        const { debt } = await this.reads.residentBalance(event.residentId);
        try {
          transactionId = await this.db.withSavepoint('confirm_attempt', async () => {
            if (debt.isZero()) return (await this.ledger.post(holdId, undefined, metadata, creditExpiresAt)).id;
            const hold = await this.ledger.getTransaction(holdId);
            const points = creditTo(hold.postings, residentAccount(event.residentId));
            await this.ledger.void(holdId, CONFIRMED_WITH_DEBT, metadata);
            // the accrual takes the issued account on the very balance row the void just locked
            // (a posting that names its row keeps it): a random other row, locked after the
            // resident's, could deadlock with an earn batch that locks that row first
            const issuedRow = hold.postings.find((p) => p.account === ISSUED_ACCOUNT)!;
            const postings = accrual(event.residentId, points, Decimal.min(debt, points));
            postings[0] = { ...issuedRow, amount: points };
            const accrued = await this.ledger.record({
              type: EARN_TYPE,
              postings,
              description: hold.description ?? undefined,
              metadata: { ...hold.metadata, confirms: holdId },
              creditExpiresAt,
            });
            return accrued.id;
          });
        } catch (error) {
          if (!(error instanceof DomainError && error.code === 'insufficient_points') || attempt >= 5) throw error;
        }
      }
      await this.repository.setStatus(event.id, 'posted', { transactionId });
      return (await this.repository.findEvent(sourceId, externalId))!;
    });
  }

  /** pending → rejected: the pending points are voided, and the caps count them no more. */
  reject(sourceId: string, externalId: string): Promise<EarnEventRecord> {
    return this.db.run(async () => {
      const event = await this.lockProcessed(sourceId, externalId);
      if (event.status !== 'pending') throw invalidState(`earn event ${externalId} is ${event.status}, not pending`);
      // caps before balances, the order in which earn batches lock them: no deadlock
      await this.releaseCaps(event);
      await this.ledger.void(event.transactionId!, 'earn.rejected', { externalId });
      await this.repository.setStatus(event.id, 'rejected', { reason: 'rejected_by_source' });
      return (await this.repository.findEvent(sourceId, externalId))!;
    });
  }

  /**
   * posted → revoked: the accrual is reversed. What the resident has already spent cannot be
   * taken back from their balance (it never goes below zero): that part becomes their debt,
   * which later earnings pay off first.
   */
  revoke(sourceId: string, externalId: string): Promise<EarnEventRecord> {
    return this.db.run(async () => {
      const event = await this.lockProcessed(sourceId, externalId);
      if (event.status !== 'posted') throw invalidState(`earn event ${externalId} is ${event.status}, not posted`);
      const accrualTx = await this.ledger.getTransaction(event.transactionId!);
      const toResident = creditTo(accrualTx.postings, residentAccount(event.residentId));
      const toDebt = creditTo(accrualTx.postings, residentDebtAccount(event.residentId));
      // Caps are locked before balances, the order in which earn batches lock them, so revokes
      // and batches never deadlock. The balance is read without a lock: if the resident spends
      // between the read and the write, the ledger refuses and the revoke tries again.
      await this.releaseCaps(event);
      for (let attempt = 1; ; attempt++) {
        const { available } = await this.reads.residentBalance(event.residentId);
        // what of the accrual's lot has expired is not taken back and becomes no debt: it has
        // left the resident already (to programme:expired)
        const expired = (await this.ledger.lotOf(event.transactionId!, residentAccount(event.residentId)))?.expired ?? new Decimal(0);
        const postings = revocation(event.residentId, toResident.minus(expired), toDebt, available);
        // nothing left to take back (all of it expired): the event is revoked, the journal unchanged
        if (postings.length < 2) break;
        try {
          await this.db.withSavepoint('revoke_attempt', () =>
            this.ledger.reverseWith(
              event.transactionId!,
              postings,
              {
                externalId,
                action: 'revoke',
                debt: debitTo(postings, residentDebtAccount(event.residentId)).toFixed(),
                ...(expired.gt(0) ? { expired: expired.toFixed() } : {}),
              },
              'earn.revoked',
            ),
          );
          break;
        } catch (error) {
          if (!(error instanceof DomainError && error.code === 'insufficient_points') || attempt >= 5) throw error;
        }
      }
      await this.repository.setStatus(event.id, 'revoked');
      return (await this.repository.findEvent(sourceId, externalId))!;
    });
  }

  /** When the points of a pending accrual confirmed now expire: its rule's days, a campaign's, or the policy's. */
  private async confirmedExpiry(event: EarnEventRecord): Promise<Date | null> {
    const rule = event.ruleId ? (await this.rules.byIds([event.ruleId])).get(event.ruleId) : undefined;
    const days = rule ? expiryDaysFor(rule, await this.rules.campaigns(), event) : null;
    return this.ledger.creditExpiry(days);
  }

  /** Locks an event; one still waiting in the queue is processed first, so that it has a state to change. */
  private async lockProcessed(sourceId: string, externalId: string): Promise<EarnEventRecord> {
    let event = await this.repository.findEvent(sourceId, externalId, true);
    if (!event) throw notFound(`earn event ${externalId}`);
    if (event.status === 'received') {
      await this.processor.processBatch([event.id]);
      event = (await this.repository.findEvent(sourceId, externalId, true))!;
    }
    return event;
  }

  private async releaseCaps(event: EarnEventRecord): Promise<void> {
    if (!event.ruleId || !event.points) return;
    const rule = (await this.rules.byIds([event.ruleId])).get(event.ruleId);
    if (!rule || (!rule.dailyCap && !rule.monthlyCap)) return;
    const { day, month } = capPeriods(event.occurredAt);
    const keys = [
      ...(rule.dailyCap ? [{ residentId: event.residentId, ruleId: rule.id, period: day }] : []),
      ...(rule.monthlyCap ? [{ residentId: event.residentId, ruleId: rule.id, period: month }] : []),
    ];
    const usage = await this.repository.lockCapUsage(keys);
    const changed = new Map<string, Decimal>();
    for (const k of keys) changed.set(capKey(k), Decimal.max(0, usage.get(capKey(k))!.minus(event.points)));
    await this.repository.saveCapUsage(changed);
  }
}

/**
 * The reversal of an accrual: programme:issued gets back all of it; the resident gives back what
 * they still have of it, and the rest (with any debt the accrual had repaid) becomes debt.
 */
function revocation(residentId: string, toResident: Decimal, toDebt: Decimal, available: Decimal): Posting[] {
  const total = toResident.plus(toDebt);
  const takeBack = Decimal.min(toResident, Decimal.max(available, 0));
  const newDebt = total.minus(takeBack);
  if (total.lte(0)) return [];
  const postings: Posting[] = [{ account: ISSUED_ACCOUNT, asset: 'POINTS', side: 'C', amount: total }];
  if (takeBack.gt(0)) postings.push({ account: residentAccount(residentId), asset: 'POINTS', side: 'D', amount: takeBack });
  if (newDebt.gt(0)) postings.push({ account: residentDebtAccount(residentId), asset: 'POINTS', side: 'D', amount: newDebt });
  return postings;
}

function debitTo(postings: Posting[], account: string): Decimal {
  return postings.filter((p) => p.account === account && p.side === 'D').reduce((sum, p) => sum.plus(p.amount), new Decimal(0));
}

function creditTo(postings: Posting[], account: string): Decimal {
  return postings.filter((p) => p.account === account && p.side === 'C').reduce((sum, p) => sum.plus(p.amount), new Decimal(0));
}
