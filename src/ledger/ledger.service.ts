import { Injectable, Logger } from '@nestjs/common';
import { DomainError, notFound } from '../common/errors';
import { newRowId } from '../common/identifiers';
import { Decimal } from '../common/money';
import { databaseErrorOf, isUniqueViolation } from '../infra/database/prisma.service';
import { ReadReplica } from '../infra/database/read-replica';
import { TransactionHost } from '../infra/database/transaction-host';
import { classifyAccount } from './domain/account';
import { ExpiryPolicy, expiryOf, validPolicy } from './domain/expiry';
import { balanceView } from './domain/balance';
import { insufficientPoints, invalidState, ledgerInvalid } from './domain/errors';
import {
  AccountBalance,
  EXPIRE_TYPE,
  LedgerTransaction,
  POST_TYPE,
  REVERSAL_TYPE,
  TransactionStatus,
  VOID_TYPE,
} from './domain/ledger-transaction';
import { partOfHold, Posting, reversed, validatePostings } from './domain/transaction';
import {
  AccountRow,
  JournalEntry,
  LedgerRepository,
  LotCursor,
  NewJournalEntry,
  SQLSTATE_INSUFFICIENT,
  SQLSTATE_INVALID,
  SQLSTATE_NOT_OPEN,
  TransactionKind,
} from './ledger.repository';

/**
 * Raised by ledger_record() when its postings come more than its bound (30 s) after the call's
 * start (it waited that long for locks, say): nothing is written, and the call may be made again.
 * (CL004 is the lots' consistency failure: lots that do not cover a balance.)
 */
export const SQLSTATE_TOO_SLOW = 'CL005';

export interface NewTransaction {
  type: string;
  postings: Posting[];
  /** a two-phase transaction: reserved now, posted or voided later */
  pending?: boolean;
  expiresAt?: Date;
  /**
   * When the points this transaction credits to a resident expire: the expiry of the lot the
   * credit makes (docs/accounting.md, "Lots"). None: they never expire. Posted credits only.
   */
  creditExpiresAt?: Date;
  metadata?: Record<string, unknown>;
  description?: string;
  effectiveAt?: Date;
}

interface Recording {
  type: string;
  kind: TransactionKind;
  postings: Posting[];
  /** the hold this transaction settles: the ledger's door releases what it reserved */
  pendingId?: string;
  reversesId?: string;
  expiresAt?: Date;
  creditExpiresAt?: Date;
  metadata?: Record<string, unknown>;
  description?: string;
  effectiveAt?: Date;
}

/**
 * The ledger's use cases. Everything else in the service moves points only through here, and
 * every write goes through the ledger's one door: one statement of ledger_record (inside the
 * caller's transaction, if any), which derives and checks the balance changes itself.
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger('Ledger');

  constructor(
    private readonly repository: LedgerRepository,
    private readonly db: TransactionHost,
    private readonly replica: ReadReplica,
  ) {}

  /**
   * Says that residents' accounts were just written outside this service's own writes (the
   * one-statement redemption): their history is read from the primary for a while, so that a
   * resident sees their own write even when reads go to a replica.
   */
  wrote(accounts: string[]): void {
    this.replica.noteWrites(accounts);
  }

  /** Records a transaction, posted at once or (pending) reserved against available balances. */
  async record(input: NewTransaction): Promise<LedgerTransaction> {
    validatePostings(input.postings, await this.repository.assetScales());
    if (input.expiresAt && !input.pending) throw ledgerInvalid('expiresAt is only for pending transactions');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw ledgerInvalid('expiresAt must be in the future');
    checkCreditExpiry(input);
    const pending = input.pending === true;
    return this.write({
      type: input.type,
      kind: pending ? 'pending' : 'posted',
      postings: input.postings,
      expiresAt: input.expiresAt,
      creditExpiresAt: input.creditExpiresAt,
      metadata: input.metadata,
      description: input.description,
      effectiveAt: input.effectiveAt,
    });
  }

  /**
   * Records many transactions in one statement: the accruals of a batch of earn events. Within
   * the batch an account that must not go below zero only ever moves one way, so summing its
   * changes cannot hide an overdraft. Ids given in the inputs are used, others made here.
   */
  async recordMany(inputs: (NewTransaction & { id?: string })[]): Promise<{ id: string; createdAt: Date }[]> {
    if (inputs.length === 0) return [];
    const scales = await this.repository.assetScales();
    for (const input of inputs) {
      validatePostings(input.postings, scales);
      if (input.expiresAt || input.effectiveAt) throw ledgerInvalid('a batch takes no expiry or effective time');
      checkCreditExpiry(input);
    }
    const accounts = await this.repository.ensureAccounts(
      inputs.flatMap((i) => i.postings).map((p) => ({ spec: classifyAccount(p.account), asset: p.asset })),
    );
    // the door refuses a batch that both adds to and takes from an account that may not go below
    // zero (the summed change would not be checked as each change would be)
    const entries = inputs.map((input): NewJournalEntry => ({
      // the caller may name the transactions, to write what points at them before them
      id: input.id ?? newRowId(),
      type: input.type,
      kind: input.pending ? 'pending' : 'posted',
      creditExpiresAt: input.creditExpiresAt,
      metadata: input.metadata ?? {},
      description: input.description,
      postings: input.postings.map((p) => ({
        accountId: accounts.get(`${p.account}\u0000${p.asset}`)!.id,
        asset: p.asset,
        side: p.side,
        amount: p.amount,
      })),
    }));
    let createdAt: Date;
    try {
      ({ createdAt } = await this.repository.record(entries));
    } catch (error) {
      throw this.translate(error, {}, accounts);
    }
    return entries.map((e) => ({ id: e.id, createdAt }));
  }

  /**
   * Posts a pending transaction, whole or (with `amount`) in part; the rest is released. What it
   * credits to a resident becomes a lot now, expiring at `creditExpiresAt` (a confirmed accrual
   * gets its expiry at posting).
   */
  async post(pendingId: string, amount?: Decimal, metadata?: Record<string, unknown>, creditExpiresAt?: Date): Promise<LedgerTransaction> {
    checkCreditExpiry({ creditExpiresAt });
    const hold = await this.openHold(pendingId);
    const postings = amount ? partOfHold(hold.postings, amount, await this.repository.assetScales()) : hold.postings;
    return this.write({
      type: POST_TYPE,
      kind: 'posted',
      pendingId,
      postings,
      metadata,
      creditExpiresAt,
    });
  }

  /** Releases a pending transaction without posting anything. */
  async void(pendingId: string, type: string = VOID_TYPE, metadata?: Record<string, unknown>): Promise<LedgerTransaction> {
    await this.openHold(pendingId, type === EXPIRE_TYPE);
    return this.write({ type, kind: 'void', pendingId, postings: [], metadata });
  }

  /** Reverses a posted transaction with a new one that swaps every posting. Once only. */
  async reverse(id: string, metadata?: Record<string, unknown>, type: string = REVERSAL_TYPE): Promise<LedgerTransaction> {
    const original = await this.repository.findTransaction(id);
    if (!original) throw notFound(`transaction ${id}`);
    if (original.kind !== 'posted' || original.postings.length === 0) {
      throw invalidState(`transaction ${id} is ${statusOf(original)}: only a posted transaction can be reversed`);
    }
    if (original.reversesId) throw invalidState(`transaction ${id} is itself a reversal: record a new transaction instead`);
    if (original.reversalId) throw invalidState(`transaction ${id} was already reversed by ${original.reversalId}`);
    const postings = reversed(original.postings);
    return this.write({
      type,
      kind: 'posted',
      reversesId: id,
      postings,
      metadata: { ...metadata, reverses: id },
    });
  }

  /**
   * Reverses a posted transaction with postings of the caller's choosing (e.g. a revoked accrual
   * that takes back what the resident still has and records the rest as debt). Still once only.
   */
  async reverseWith(id: string, postings: Posting[], metadata: Record<string, unknown>, type: string): Promise<LedgerTransaction> {
    validatePostings(postings, await this.repository.assetScales());
    const original = await this.repository.findTransaction(id);
    if (!original) throw notFound(`transaction ${id}`);
    if (original.kind !== 'posted') throw invalidState(`transaction ${id} is not posted`);
    if (original.reversalId) throw invalidState(`transaction ${id} was already reversed by ${original.reversalId}`);
    return this.write({ type, kind: 'posted', reversesId: id, postings, metadata });
  }

  /** Voids every hold whose expiry has passed; returns how many. Safe to run on many replicas at once. */
  async expireHolds(now: Date = new Date(), batch = 500): Promise<number> {
    let expired = 0;
    for (const id of await this.repository.expiredHolds(now, batch)) {
      try {
        await this.void(id, EXPIRE_TYPE);
        expired++;
      } catch (error) {
        // settled meanwhile by a post, a void or another sweeper: nothing left to do
        if (!(error instanceof Error && 'code' in error && error.code === 'invalid_state')) throw error;
      }
    }
    if (expired > 0) this.logger.log(`${expired} expired hold(s) released`);
    return expired;
  }

  /**
   * The expiry run: records the expiry of every lot past its expiry (an `expiry` transaction per
   * resident account, through the ledger's door), `chunk` lots at a time, each chunk one
   * statement and its own transaction (set-based: no round trip per lot or account). One process
   * at a time runs it (a transaction-scoped advisory lock: another process finding it taken leaves
   * the work to it); a lot is expired exactly once however many run it, since the door zeroes its
   * remaining under the account's row lock. Returns how many accounts had points expire.
   *
   * 1000 lots a chunk, as an earn batch's 1000 accruals: the chunk's statements then find their
   * rows by key however large the tables (with 5000, a table of a few hundred thousand lots or
   * balance rows was read whole for each chunk, so a month's end grew with the square of its size).
   */
  async expireLots(now: Date = new Date(), chunk = 1000): Promise<number> {
    let after: LotCursor | null = null;
    let accounts = 0;
    for (;;) {
      const done: { last: LotCursor; accounts: number } | null = await this.repository.expireLotsChunk(now, after, chunk);
      if (!done) break;
      accounts += done.accounts;
      after = done.last;
    }
    if (accounts > 0) this.logger.log(`points expired on ${accounts} account(s)`);
    return accounts;
  }

  /** A resident account's points that expire later, per expiry moment, soonest first. */
  async expiring(account: string): Promise<{ expiresAt: Date; amount: Decimal }[]> {
    classifyAccount(account);
    const row = await this.repository.findAccount(account, 'POINTS');
    return row ? this.repository.expiringOf(row.id) : [];
  }

  /** What remains of the lot a credit made to an account, and how much of it has expired; null if none. */
  async lotOf(transactionId: string, account: string): Promise<{ remaining: Decimal; expired: Decimal } | null> {
    const row = await this.repository.findAccount(account, 'POINTS');
    return row ? this.repository.lotOf(transactionId, row.id) : null;
  }

  expiryPolicy(): Promise<ExpiryPolicy> {
    return this.repository.expiryPolicy();
  }

  /** Replaces the policy: points credited from now on follow it; lots already made keep their expiry. */
  async setExpiryPolicy(input: { afterDays?: unknown; roundUpTo?: unknown; noticeDays?: unknown }): Promise<ExpiryPolicy> {
    const policy = validPolicy(input);
    await this.repository.saveExpiryPolicy(policy);
    return policy;
  }

  /**
   * When points credited now expire: after `days` (an earning rule's or campaign's own), or as
   * the policy says; null: never.
   */
  async creditExpiry(days?: number | null, at: Date = new Date()): Promise<Date | null> {
    const policy = await this.repository.expiryPolicy();
    return expiryOf(at, days ?? policy.afterDays, policy.roundUpTo);
  }

  /** Publishes the points.expiring notices that are due (once per resident and date); returns how many. */
  async sendExpiryNotices(limit = 10_000): Promise<number> {
    const policy = await this.repository.expiryPolicy();
    if (policy.noticeDays === 0) return 0;
    let sent = 0;
    for (let n = limit; n === limit; sent += n) n = await this.repository.sendExpiryNotices(policy.noticeDays, limit);
    return sent;
  }

  async getTransaction(id: string): Promise<LedgerTransaction> {
    const entry = await this.repository.findTransaction(id);
    if (!entry) throw notFound(`transaction ${id}`);
    return toLedgerTransaction(entry);
  }

  /** A balance now (running balance, O(1)) or as of a past moment (from the journal). */
  async balance(account: string, asset: string, asOf?: Date): Promise<AccountBalance> {
    const spec = classifyAccount(account);
    if (!(await this.repository.assetScales()).has(asset)) throw ledgerInvalid(`unknown asset ${asset}`);
    const row = await this.repository.findAccount(account, asset);
    const zero = new Decimal(0);
    if (!row) return { account, asset, posted: zero, pendingIn: zero, pendingOut: zero, available: zero };
    const sums = asOf ? await this.repository.balanceSumsAsOf(row.id, asOf) : await this.repository.balanceSums(row.id);
    return { account, asset, ...balanceView(sums, spec.normalSide) };
  }

  /**
   * Opens these accounts (with their balance rows) unless they are open: accounts about to take
   * postings, so that the first of them does not have to create them (and wait for that).
   */
  async open(accounts: string[], asset: string): Promise<void> {
    await this.repository.ensureAccounts(accounts.map((account) => ({ spec: classifyAccount(account), asset })));
  }

  /** The account's id and normal side, for read models that page through its journal; null if never used. */
  async accountRef(account: string, asset: string): Promise<{ id: bigint; normalSide: 'D' | 'C' } | null> {
    classifyAccount(account);
    const row = await this.repository.findAccount(account, asset);
    return row && { id: row.id, normalSide: row.normalSide };
  }

  assetScales(): Promise<ReadonlyMap<string, number>> {
    return this.repository.assetScales();
  }

  async assetScale(asset: string): Promise<number> {
    const scale = (await this.repository.assetScales()).get(asset);
    if (scale === undefined) throw ledgerInvalid(`unknown asset ${asset}`);
    return scale;
  }

  private async openHold(id: string, expiring = false): Promise<JournalEntry> {
    const hold = await this.repository.findTransaction(id);
    if (!hold) throw notFound(`transaction ${id}`);
    if (hold.kind !== 'pending') throw invalidState(`transaction ${id} is not pending`);
    if (hold.settlement) throw invalidState(`transaction ${id} is already ${statusOf(hold)}`);
    if (!expiring && hold.expiresAt && hold.expiresAt.getTime() <= Date.now()) {
      throw invalidState(`transaction ${id} expired at ${hold.expiresAt.toISOString()}`);
    }
    return hold;
  }

  private async write(r: Recording): Promise<LedgerTransaction> {
    const accounts = await this.repository.ensureAccounts(r.postings.map((p) => ({ spec: classifyAccount(p.account), asset: p.asset })));
    const id = newRowId();
    try {
      const written = await this.repository.record([
        {
          id,
          type: r.type,
          kind: r.kind,
          pendingId: r.pendingId,
          reversesId: r.reversesId,
          expiresAt: r.expiresAt,
          creditExpiresAt: r.creditExpiresAt,
          metadata: r.metadata ?? {},
          description: r.description,
          effectiveAt: r.effectiveAt,
          postings: r.postings.map((p) => ({
            accountId: accounts.get(`${p.account}\u0000${p.asset}`)!.id,
            // a posting that names its balance row keeps it (a reversal, or a write reusing the
            // row it already holds); the door picks the others
            shard: 'shard' in p && typeof p.shard === 'number' ? p.shard : undefined,
            asset: p.asset,
            side: p.side,
            amount: p.amount,
          })),
        },
      ]);
      const { createdAt, availableAfter } = written;
      // a resident reads their own write, even from a replica (see ReadReplica)
      if (this.replica.marksWrites) {
        this.replica.noteWrites(r.postings.filter((p) => classifyAccount(p.account).owner === 'resident').map((p) => p.account));
      }
      return {
        id,
        type: r.type,
        status: r.kind === 'void' ? 'void' : r.kind,
        postings: r.postings.map(({ account, asset, side, amount }) => ({ account, asset, side, amount })),
        metadata: r.metadata ?? {},
        description: r.description ?? null,
        pendingId: r.pendingId ?? null,
        settledBy: null,
        reversesId: r.reversesId ?? null,
        reversedBy: null,
        expiresAt: r.expiresAt ?? null,
        effectiveAt: r.effectiveAt ?? createdAt,
        createdAt,
        availableAfter: new Map(
          [...accounts.values()].filter((a) => availableAfter.has(a.id)).map((a) => [a.code, availableAfter.get(a.id)!]),
        ),
      };
    } catch (error) {
      throw this.translate(error, r, accounts);
    }
  }

  private translate(error: unknown, r: { pendingId?: string; reversesId?: string }, accounts: Map<string, AccountRow>): unknown {
    const info = databaseErrorOf(error);
    if (info.sqlState === SQLSTATE_INSUFFICIENT) {
      const account = [...accounts.values()].find((a) => a.id.toString() === info.detail);
      return insufficientPoints(account?.code ?? 'unknown', amountsOf(info.hint));
    }
    if (info.sqlState === SQLSTATE_INVALID) return ledgerInvalid(info.message ?? 'not a valid transaction');
    if (info.sqlState === SQLSTATE_NOT_OPEN) return invalidState(info.message ?? `transaction ${r.pendingId} is not an open hold`);
    if (info.sqlState === SQLSTATE_TOO_SLOW) {
      return new DomainError(
        'service_unavailable',
        'the ledger write ran past its 30 s bound (its accounts’ locks held elsewhere, say); nothing was written, try again',
      );
    }
    if (isUniqueViolation(error) && info.constraint === 'ledger_transactions_settles_once') {
      return invalidState(`transaction ${r.pendingId} was settled meanwhile`);
    }
    if (isUniqueViolation(error) && info.constraint === 'ledger_transactions_reversed_once') {
      return invalidState(`transaction ${r.reversesId} was reversed meanwhile`);
    }
    return error;
  }
}

/** A credit's expiry: for posted credits only, and in the future. */
function checkCreditExpiry(input: { pending?: boolean; creditExpiresAt?: Date }): void {
  if (!input.creditExpiresAt) return;
  if (Number.isNaN(input.creditExpiresAt.getTime())) throw ledgerInvalid('creditExpiresAt is not a date');
  if (input.pending) throw ledgerInvalid('a pending transaction credits no lot yet: its expiry is given when it is posted');
  if (input.creditExpiresAt.getTime() <= Date.now()) throw ledgerInvalid('creditExpiresAt must be in the future');
}

/** The needed and available amounts ledger_record puts in its refusal's hint. */
function amountsOf(hint: string | undefined): { needed: string; available: string } | undefined {
  if (!hint) return undefined;
  try {
    const { needed, available } = JSON.parse(hint) as { needed?: unknown; available?: unknown };
    return typeof needed === 'string' && typeof available === 'string'
      ? { needed: new Decimal(needed).toFixed(), available: new Decimal(available).toFixed() }
      : undefined;
  } catch {
    return undefined;
  }
}

function statusOf(entry: JournalEntry): TransactionStatus {
  if (entry.kind === 'void') return 'void';
  if (entry.kind === 'posted') return 'posted';
  if (!entry.settlement) return 'pending';
  if (entry.settlement.kind === 'posted') return 'posted';
  return entry.settlement.type === EXPIRE_TYPE ? 'expired' : 'voided';
}

export function toLedgerTransaction(entry: JournalEntry): LedgerTransaction {
  return {
    id: entry.id,
    type: entry.type,
    status: statusOf(entry),
    postings: entry.postings,
    metadata: entry.metadata,
    description: entry.description,
    pendingId: entry.pendingId,
    settledBy: entry.settlement?.id ?? null,
    reversesId: entry.reversesId,
    reversedBy: entry.reversalId,
    expiresAt: entry.expiresAt,
    effectiveAt: entry.effectiveAt,
    createdAt: entry.createdAt,
  };
}
