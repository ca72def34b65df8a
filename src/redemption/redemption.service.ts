import { Injectable } from '@nestjs/common';
import { CatalogueService } from '../catalogue/catalogue.service';
import { generateCode, IssuedCode } from '../catalogue/domain/codes';
import { CatalogueItem, isActive, payeeAccount } from '../catalogue/domain/item';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { newRowId } from '../common/identifiers';
import { Decimal } from '../common/money';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { TransactionHost } from '../infra/database/transaction-host';
import { residentAccount } from '../ledger/domain/account';
import { invalidState } from '../ledger/domain/errors';
import { LedgerService } from '../ledger/ledger.service';
import { IdempotencyContext, IdempotencyService, OneStatement, StoredAnswer } from '../idempotency/idempotency.service';
import { RedemptionRecord, RedemptionRepository } from './redemption.repository';

/** A stored redemption, as the service gives it to its callers (the API and the pages). */
export type { RedemptionRecord };

export const MAX_QUANTITY = 10;
const DAY_MS = 24 * 3600_000;

export interface RedemptionResult extends RedemptionRecord {
  balanceAfter: Decimal;
}

/**
 * Residents spend points: a redemption pays the partner from the resident's points, takes stock
 * and allocates the code(s) in one database transaction, or does nothing at all.
 */
@Injectable()
export class RedemptionService {
  constructor(
    private readonly db: TransactionHost,
    private readonly repository: RedemptionRepository,
    private readonly catalogue: CatalogueService,
    private readonly ledger: LedgerService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * A redemption under an Idempotency-Key, in one statement when it can (catalogue_redeem: the
   * common case, one round trip), else by `redeem` under IdempotencyService.run, which also
   * records a refusal as the key's answer. `render` turns a result into the answer's body, on
   * either path; the one-statement path stores the redemption as the key's answer, and a replay
   * renders it again as it was created (the same bytes).
   */
  async redeemOnce(
    context: IdempotencyContext,
    residentId: string,
    itemId: string,
    quantity: number,
    render: (r: RedemptionResult) => unknown,
  ): Promise<StoredAnswer> {
    const oneStatement: OneStatement = async () => {
      if (!this.db.standalone || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) return null;
      const account = await this.ledger.accountRef(residentAccount(residentId), 'POINTS');
      // no account yet: nothing to spend, and the general path says so
      if (!account) return null;
      this.catalogue.forgetPoolCount(itemId);
      const done = await this.repository.redeemInOneStatement({
        ...context,
        redemptionId: newRowId(),
        transactionId: newRowId(),
        residentId,
        residentAccountId: account.id,
        itemId,
        quantity,
        generatedCodes: Array.from({ length: quantity }, generateCode),
      });
      if (!done) return null;
      if (done.redemption) this.ledger.wrote([residentAccount(residentId)]);
      const { redemption, ...key } = done;
      return redemption ? { ...key, body: JSON.stringify(render({ ...redemption.record, balanceAfter: redemption.balanceAfter })) } : key;
    };
    const renderStored = async (ref: string) => {
      const stored = await this.repository.findRedemption(ref);
      if (!stored || stored.balanceAfter === null) throw new Error(`stored answer ${ref}: no such redemption`);
      return JSON.stringify(render(asCreated(stored)));
    };
    return this.idempotency.runFast(
      context,
      oneStatement,
      async () => ({ status: 201, body: render(await this.redeem(residentId, itemId, quantity)) }),
      renderStored,
    );
  }

  redeem(residentId: string, itemId: string, quantity = 1): Promise<RedemptionResult> {
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      throw invalidInput(`quantity must be a whole number from 1 to ${MAX_QUANTITY}`);
    }
    return this.db.run(async () => {
      const item = await this.activeItem(itemId);
      if (item.kind === 'DONATION') throw invalidInput(`${itemId} is a donation: use /v1/me/donations`);
      await this.withinLimit(residentId, item, quantity);
      const price = item.pricePoints!.times(quantity);
      const id = newRowId();
      // the resident's balance first: most refusals end here, before any stock is touched
      const transaction = await this.ledger.record({
        type: 'redeem',
        postings: [
          { account: residentAccount(residentId), asset: 'POINTS', side: 'D', amount: price },
          { account: payeeAccount(item), asset: 'POINTS', side: 'C', amount: price },
        ],
        metadata: { redemptionId: id, itemId, quantity, residentId },
        description: `${item.title}${quantity > 1 ? ` × ${quantity}` : ''}`,
      });
      const validUntil = item.codeValidDays ? new Date(Date.now() + item.codeValidDays * DAY_MS) : null;
      const balanceAfter = transaction.availableAfter!.get(residentAccount(residentId))!;
      const record = {
        id,
        residentId,
        itemId,
        kind: item.kind,
        quantity,
        pointsSpent: price,
        status: 'completed' as const,
        transactionId: transaction.id,
        stockCounted: item.stock !== null,
        limitCounted: item.perResidentLimit !== null,
        balanceAfter,
      };
      if (item.codeSource === 'POOL') this.catalogue.forgetPoolCount(itemId);
      const created = await this.repository.createRedemption(
        record,
        item.codeSource === 'POOL' ? { pool: quantity } : { generated: Array.from({ length: quantity }, generateCode) },
        validUntil,
      );
      if (created.codes.length < quantity) throw outOfStock(itemId);
      // a limited stock is counted last: the item's row stays locked only until the commit that follows
      if (item.stock !== null && !(await this.catalogue.takeStock(itemId, quantity))) throw outOfStock(itemId);
      return completed(record, created);
    });
  }

  donate(residentId: string, itemId: string, amount: Decimal): Promise<RedemptionResult> {
    return this.db.run(async () => {
      const item = await this.activeItem(itemId);
      if (item.kind !== 'DONATION') throw invalidInput(`${itemId} is not a donation item`);
      if (!amount.isInteger() || amount.lt(item.minPoints!) || amount.gt(item.maxPoints!)) {
        throw invalidInput(`amount must be whole points from ${item.minPoints!.toFixed()} to ${item.maxPoints!.toFixed()}`);
      }
      await this.withinLimit(residentId, item, 1);
      const id = newRowId();
      const transaction = await this.ledger.record({
        type: 'donate',
        postings: [
          { account: residentAccount(residentId), asset: 'POINTS', side: 'D', amount },
          { account: payeeAccount(item), asset: 'POINTS', side: 'C', amount },
        ],
        metadata: { redemptionId: id, itemId, residentId },
        description: item.title,
      });
      const record = {
        id,
        residentId,
        itemId,
        kind: 'DONATION' as const,
        quantity: 1,
        pointsSpent: amount,
        status: 'completed' as const,
        transactionId: transaction.id,
        stockCounted: false,
        limitCounted: item.perResidentLimit !== null,
        balanceAfter: transaction.availableAfter!.get(residentAccount(residentId))!,
      };
      const created = await this.repository.createRedemption(record, null, null);
      return completed(record, created);
    });
  }

  async get(residentId: string, id: string): Promise<RedemptionRecord> {
    const redemption = await this.repository.findRedemption(id);
    if (!redemption || redemption.residentId !== residentId) throw notFound(`redemption ${id}`);
    return redemption;
  }

  async list(residentId: string, limit: number, cursor?: string): Promise<Page<RedemptionRecord>> {
    const before = decodeCursor<{ t: string; id: string }>(cursor, ['t', 'id']);
    const rows = await this.repository.listRedemptions(residentId, before && { createdAt: new Date(before.t), id: before.id }, limit + 1);
    return pageOf(
      rows,
      limit,
      (r) => r,
      (r) => ({ t: r.createdAt.toISOString(), id: r.id }),
    );
  }

  /**
   * Cancels an unused redemption within the item's cancel window: the points come back (a
   * reversal), its codes are retired, stock and the resident's count are given back. Refused
   * once a partner has redeemed any of its codes.
   */
  cancel(residentId: string, id: string): Promise<RedemptionResult> {
    return this.db.run(async () => {
      const redemption = await this.repository.findRedemption(id, true);
      if (!redemption || redemption.residentId !== residentId) throw notFound(`redemption ${id}`);
      if (redemption.status !== 'completed') throw invalidState(`redemption ${id} is already ${redemption.status}`);
      if (redemption.kind === 'DONATION') throw invalidState('a donation cannot be cancelled');
      const item = (await this.catalogue.findItem(redemption.itemId))!;
      if (Date.now() > redemption.createdAt.getTime() + item.cancelWindowHours * 3600_000) {
        throw invalidState(`the cancel window of ${item.cancelWindowHours} hours has passed`);
      }
      const statuses = await this.repository.lockCodesOf(id);
      if (statuses.some((s) => s !== 'issued')) throw invalidState('a code of this redemption was already redeemed by the partner');
      // rows in the order a redemption takes them (count, balances, item), so the two never deadlock
      // what the redemption counted is given back, whatever the item says now
      if (redemption.limitCounted) await this.repository.uncountForResident(residentId, item.id, redemption.quantity);
      const refund = await this.ledger.reverse(redemption.transactionId, { redemptionId: id, action: 'cancel' }, 'redeem.cancelled');
      await this.repository.markCancelled(id, refund.id);
      if (redemption.stockCounted) await this.catalogue.returnStock(item.id, redemption.quantity);
      return this.result(id, residentId);
    });
  }

  /** The item as it is now, read inside the redemption's transaction: price, window, stock and limit. */
  private async activeItem(itemId: string): Promise<CatalogueItem> {
    const item = await this.catalogue.findItem(itemId);
    if (!item || !isActive(item, new Date())) throw notFound(`catalogue item ${itemId}`);
    return item;
  }

  private async withinLimit(residentId: string, item: CatalogueItem, quantity: number): Promise<void> {
    if (item.perResidentLimit === null) return;
    if (!(await this.repository.countForResident(residentId, item.id, quantity, item.perResidentLimit))) {
      throw new DomainError('limit_exceeded', `at most ${item.perResidentLimit} of ${item.id} per resident`);
    }
  }

  private async result(id: string, residentId: string): Promise<RedemptionResult> {
    const redemption = (await this.repository.findRedemption(id))!;
    const { available } = await this.ledger.balance(residentAccount(residentId), 'POINTS');
    return { ...redemption, balanceAfter: available };
  }

  /** How many of each item a resident holds against its per-resident limit. */
  residentCounts(residentId: string, itemIds: string[]): Promise<Map<string, number>> {
    return this.repository.residentCounts(residentId, itemIds);
  }
}

/** A redemption just made: what was recorded, with its codes (issued) and the resident's balance after it. */
function completed(
  record: Omit<RedemptionRecord, 'codes' | 'createdAt' | 'cancelledAt' | 'refundTransactionId' | 'balanceAfter'> & {
    balanceAfter: Decimal;
  },
  created: { createdAt: Date; codes: IssuedCode[] },
): RedemptionResult {
  return {
    ...record,
    refundTransactionId: null,
    createdAt: created.createdAt,
    cancelledAt: null,
    codes: created.codes.map((c) => ({ ...c, status: 'issued' as const })),
  };
}

/** A stored redemption as it was when it was made: its answer, rendered again for a replay. */
function asCreated(r: RedemptionRecord): RedemptionResult {
  return {
    ...r,
    status: 'completed',
    refundTransactionId: null,
    cancelledAt: null,
    codes: r.codes.map((c) => ({ ...c, status: 'issued' as const })),
    balanceAfter: r.balanceAfter!,
  };
}

function outOfStock(itemId: string): DomainError {
  return new DomainError('out_of_stock', `${itemId} is out of stock`);
}
