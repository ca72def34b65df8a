import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { arrayLiteral } from '../infra/database/array-literal';
import { TransactionHost } from '../infra/database/transaction-host';
import { AccountSpec, Side } from './domain/account';
import { BalanceDelta, BalanceSums } from './domain/balance';
import { Posting } from './domain/transaction';

export interface AccountRow {
  id: bigint;
  code: string;
  asset: string;
  normalSide: Side;
  floorZero: boolean;
  shards: number;
}

export type TransactionKind = 'posted' | 'pending' | 'void';

export interface NewJournalEntry {
  id: string;
  type: string;
  kind: TransactionKind;
  pendingId?: string;
  reversesId?: string;
  expiresAt?: Date;
  metadata: Record<string, unknown>;
  description?: string;
  effectiveAt?: Date;
  postings: { accountId: bigint; shard: number; asset: string; side: Side; amount: Decimal }[];
  deltas: BalanceDelta[];
}

export interface JournalEntry {
  id: string;
  seq: bigint;
  type: string;
  kind: TransactionKind;
  pendingId: string | null;
  reversesId: string | null;
  expiresAt: Date | null;
  metadata: Record<string, unknown>;
  description: string | null;
  effectiveAt: Date;
  createdAt: Date;
  postings: RecordedPosting[];
  /** for a pending transaction: the transaction that settled it, if any */
  settlement: { id: string; type: string; kind: TransactionKind; createdAt: Date } | null;
  /** the reversal of this transaction, if any */
  reversalId: string | null;
}

/** A posting as written: with the account row and balance shard it changed. */
export interface RecordedPosting extends Posting {
  accountId: bigint;
  shard: number;
}

export interface TrialBalanceRow {
  account: string;
  asset: string;
  normalSide: Side;
  debits: Decimal;
  credits: Decimal;
}

/** Raised by ledger_record() when a floor-zero account would go below zero. */
export const SQLSTATE_INSUFFICIENT = 'CL001';

const ACCOUNT_CACHE_LIMIT = 100_000;

/**
 * The ledger's tables. Accounts are created on first use; their ids are remembered (they never
 * change) so that the hot path does not look them up again.
 */
@Injectable()
export class LedgerRepository {
  private readonly accounts = new Map<string, AccountRow>();
  private scales?: ReadonlyMap<string, number>;

  constructor(private readonly db: TransactionHost) {}

  async assetScales(): Promise<ReadonlyMap<string, number>> {
    if (!this.scales) {
      const rows = await this.db.client.asset.findMany();
      this.scales = new Map(rows.map((r) => [r.code, r.scale]));
    }
    return this.scales;
  }

  /** The accounts for these codes, created (with their balance rows) when they do not exist yet. */
  async ensureAccounts(specs: { spec: AccountSpec; asset: string }[]): Promise<Map<string, AccountRow>> {
    const found = new Map<string, AccountRow>();
    let missing = specs.filter(({ spec, asset }) => {
      const cached = this.accounts.get(accountKey(spec.code, asset));
      if (cached) found.set(accountKey(spec.code, asset), cached);
      return !cached;
    });
    // A statement does not see an account that a concurrent transaction committed after the
    // statement began; the next attempt does.
    for (let attempt = 0; missing.length > 0 && attempt < 3; attempt++) {
      const rows = await this.upsertAccounts(missing);
      for (const { created, ...row } of rows) {
        const key = accountKey(row.code, row.asset);
        found.set(key, row);
        // an account created in a transaction that may still roll back is remembered only once committed
        if (created) this.db.afterCommit(() => this.remember(key, row));
        else this.remember(key, row);
      }
      missing = missing.filter(({ spec, asset }) => !found.has(accountKey(spec.code, asset)));
    }
    if (missing.length > 0) throw new Error(`ledger accounts could not be created: ${missing.map((m) => m.spec.code).join(', ')}`);
    return found;
  }

  private async upsertAccounts(specs: { spec: AccountSpec; asset: string }[]): Promise<(AccountRow & { created: boolean })[]> {
    const unique = new Map(specs.map((s) => [accountKey(s.spec.code, s.asset), s]));
    const list = [...unique.values()];
    const rows = await this.db.client.$queryRaw<RawAccount[]>`
      WITH input AS (
        SELECT * FROM unnest(${list.map((s) => s.spec.code)}::text[], ${list.map((s) => s.asset)}::text[],
                             ${list.map((s) => s.spec.normalSide)}::text[], ${list.map((s) => s.spec.floorZero)}::boolean[],
                             ${list.map((s) => s.spec.shards)}::int[])
          AS i(code, asset, normal_side, floor_zero, shards)
      ), created AS (
        INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        SELECT code, asset, normal_side, floor_zero, shards FROM input ORDER BY code, asset
        ON CONFLICT (code, asset) DO NOTHING
        RETURNING id, code, asset, normal_side, floor_zero, shards
      ), balances AS (
        INSERT INTO account_balances (account_id, shard, normal_side, floor_zero)
        SELECT c.id, s.shard, c.normal_side, c.floor_zero FROM created c, generate_series(0, c.shards - 1) AS s(shard)
      )
      SELECT id, code, asset, normal_side, floor_zero, shards, true AS created FROM created
      UNION ALL
      SELECT a.id, a.code, a.asset, a.normal_side, a.floor_zero, a.shards, false AS created
      FROM ledger_accounts a JOIN input i ON i.code = a.code AND i.asset = a.asset`;
    return rows.map((r) => ({ ...toAccountRow(r), created: r.created === true }));
  }

  async findAccount(code: string, asset: string): Promise<AccountRow | null> {
    const key = accountKey(code, asset);
    const cached = this.accounts.get(key);
    if (cached) return cached;
    const row = await this.db.client.ledgerAccount.findUnique({ where: { code_asset: { code, asset } } });
    if (!row) return null;
    const account: AccountRow = {
      id: row.id,
      code: row.code,
      asset: row.asset,
      normalSide: row.normalSide as Side,
      floorZero: row.floorZero,
      shards: row.shards,
    };
    this.remember(key, account);
    return account;
  }

  /** Writes a transaction, its postings and its balance changes in one statement. */
  async record(entry: NewJournalEntry): Promise<{ seq: bigint; createdAt: Date; availableAfter: Map<bigint, Decimal> }> {
    const p = entry.postings;
    const d = entry.deltas;
    const [row] = await this.db.client.$queryRaw<{ seq: bigint; created_at: Date; floor_accounts: bigint[]; available_after: string[] }[]>`
      SELECT seq, created_at, floor_accounts, available_after::text[] AS available_after FROM ledger_record(
        ${entry.id}::uuid, ${entry.type}, ${entry.kind}, ${entry.pendingId ?? null}::uuid, ${entry.reversesId ?? null}::uuid,
        ${entry.expiresAt ?? null}::timestamptz, ${JSON.stringify(entry.metadata)}::jsonb, ${entry.description ?? null},
        ${entry.effectiveAt ?? null}::timestamptz,
        ${p.map((x) => x.accountId)}::bigint[], ${p.map((x) => x.shard)}::smallint[], ${p.map((x) => x.asset)}::text[],
        ${p.map((x) => x.side)}::text[],
        ${p.map((x) => x.amount.toFixed())}::numeric[],
        ${d.map((x) => x.accountId)}::bigint[], ${d.map((x) => x.shard)}::smallint[],
        ${d.map((x) => x.debits.toFixed())}::numeric[], ${d.map((x) => x.credits.toFixed())}::numeric[],
        ${d.map((x) => x.debitsPending.toFixed())}::numeric[], ${d.map((x) => x.creditsPending.toFixed())}::numeric[])`;
    const availableAfter = new Map(row.floor_accounts.map((id, i) => [BigInt(id), new Decimal(row.available_after[i])]));
    return { seq: row.seq, createdAt: row.created_at, availableAfter };
  }

  /** Writes many transactions (accruals) in one statement; see ledger_record_many. */
  async recordMany(entries: Omit<NewJournalEntry, 'deltas'>[], deltas: BalanceDelta[]): Promise<Map<string, Date>> {
    const p = entries.flatMap((e, i) => e.postings.map((x) => ({ ...x, tx: i + 1 })));
    const d = deltas;
    const rows = await this.db.client.$queryRaw<{ id: string; created_at: Date }[]>`
      SELECT id::text, created_at FROM ledger_record_many(
        ${arrayLiteral(entries.map((e) => e.id))}::uuid[], ${arrayLiteral(entries.map((e) => e.type))}::text[], ${arrayLiteral(entries.map((e) => e.kind))}::text[],
        ${arrayLiteral(entries.map((e) => JSON.stringify(e.metadata)))}::jsonb[], ${arrayLiteral(entries.map((e) => e.description ?? null))}::text[],
        ${arrayLiteral(p.map((x) => x.tx))}::int[], ${arrayLiteral(p.map((x) => x.accountId))}::bigint[], ${arrayLiteral(p.map((x) => x.shard))}::smallint[],
        ${arrayLiteral(p.map((x) => x.asset))}::text[], ${arrayLiteral(p.map((x) => x.side))}::text[], ${arrayLiteral(p.map((x) => x.amount.toFixed()))}::numeric[],
        ${arrayLiteral(d.map((x) => x.accountId))}::bigint[], ${arrayLiteral(d.map((x) => x.shard))}::smallint[],
        ${arrayLiteral(d.map((x) => x.debits.toFixed()))}::numeric[], ${arrayLiteral(d.map((x) => x.credits.toFixed()))}::numeric[],
        ${arrayLiteral(d.map((x) => x.debitsPending.toFixed()))}::numeric[], ${arrayLiteral(d.map((x) => x.creditsPending.toFixed()))}::numeric[])`;
    return new Map(rows.map((r) => [r.id, r.created_at]));
  }

  async findTransaction(id: string): Promise<JournalEntry | null> {
    const row = await this.db.client.ledgerTransaction.findUnique({
      where: { id },
      include: {
        postings: { include: { account: { select: { code: true } } }, orderBy: { id: 'asc' } },
        settlements: { select: { id: true, type: true, kind: true, createdAt: true } },
        reversals: { select: { id: true } },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      seq: row.seq,
      type: row.type,
      kind: row.kind as TransactionKind,
      pendingId: row.pendingId,
      reversesId: row.reversesId,
      expiresAt: row.expiresAt,
      metadata: (row.metadata ?? {}) as Record<string, unknown>,
      description: row.description,
      effectiveAt: row.effectiveAt,
      createdAt: row.createdAt,
      postings: row.postings.map((p) => ({
        accountId: p.accountId,
        shard: p.shard,
        account: p.account.code,
        asset: p.asset,
        side: p.side as Side,
        amount: new Decimal(p.amount.toString()),
      })),
      settlement: row.settlements[0]
        ? { ...row.settlements[0], kind: row.settlements[0].kind as TransactionKind }
        : null,
      reversalId: row.reversals[0]?.id ?? null,
    };
  }

  /** The running balance: the sum of the account's few balance rows. */
  async balanceSums(accountId: bigint): Promise<BalanceSums> {
    const [row] = await this.db.client.$queryRaw<RawSums[]>`
      SELECT coalesce(sum(debits_posted), 0)::text AS debits_posted, coalesce(sum(credits_posted), 0)::text AS credits_posted,
             coalesce(sum(debits_pending), 0)::text AS debits_pending, coalesce(sum(credits_pending), 0)::text AS credits_pending
      FROM account_balances WHERE account_id = ${accountId}`;
    return toSums(row);
  }

  async balanceSumsOf(codes: string[], asset: string): Promise<Map<string, BalanceSums>> {
    if (codes.length === 0) return new Map();
    const rows = await this.db.client.$queryRaw<(RawSums & { code: string })[]>`
      SELECT a.code, sum(b.debits_posted)::text AS debits_posted, sum(b.credits_posted)::text AS credits_posted,
             sum(b.debits_pending)::text AS debits_pending, sum(b.credits_pending)::text AS credits_pending
      FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id
      WHERE a.code = ANY(${codes}::text[]) AND a.asset = ${asset}
      GROUP BY a.code`;
    return new Map(rows.map((r) => [r.code, toSums(r)]));
  }

  /** An account's posted entries, newest first, before a posting id (the cursor). */
  async history(accountId: bigint, beforeId: bigint | undefined, take: number): Promise<HistoryRow[]> {
    const rows = await this.db.client.$queryRaw<RawHistory[]>`
      SELECT p.id, p.transaction_id::text AS transaction_id, t.type, p.side, p.amount::text AS amount,
             p.balance_after::text AS balance_after, coalesce(t.description, o.description) AS description,
             o.type AS origin_type, p.created_at
      FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
      LEFT JOIN ledger_transactions o ON o.id = coalesce(t.pending_id, t.reverses_id)
      WHERE p.account_id = ${accountId} AND NOT p.pending AND (${beforeId ?? null}::bigint IS NULL OR p.id < ${beforeId ?? null}::bigint)
      ORDER BY p.id DESC LIMIT ${take}`;
    return rows.map((r) => ({
      postingId: BigInt(r.id),
      transactionId: r.transaction_id,
      type: r.type,
      side: r.side as Side,
      amount: new Decimal(r.amount),
      balanceAfter: r.balance_after === null ? null : new Decimal(r.balance_after),
      description: r.description,
      originType: r.origin_type,
      createdAt: r.created_at,
    }));
  }

  /** The balance as it stood at a past moment, from the journal itself. */
  async balanceSumsAsOf(accountId: bigint, asOf: Date): Promise<BalanceSums> {
    const [row] = await this.db.client.$queryRaw<RawSums[]>`
      SELECT
        coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'D'), 0)::text AS debits_posted,
        coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'C'), 0)::text AS credits_posted,
        coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'D' AND s.id IS NULL), 0)::text AS debits_pending,
        coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'C' AND s.id IS NULL), 0)::text AS credits_pending
      FROM ledger_postings p
      LEFT JOIN ledger_transactions s ON p.pending AND s.pending_id = p.transaction_id AND s.created_at <= ${asOf}
      WHERE p.account_id = ${accountId} AND p.created_at <= ${asOf}`;
    return toSums(row);
  }

  /** Posted debits and credits of every account, now (running balances) or as of a moment (journal). */
  async trialBalance(asOf?: Date): Promise<TrialBalanceRow[]> {
    const rows = asOf
      ? await this.db.client.$queryRaw<RawTrialRow[]>`
          SELECT a.code, a.asset, a.normal_side,
                 coalesce(sum(p.amount) FILTER (WHERE p.side = 'D'), 0)::text AS debits,
                 coalesce(sum(p.amount) FILTER (WHERE p.side = 'C'), 0)::text AS credits
          FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
          WHERE NOT p.pending AND p.created_at <= ${asOf}
          GROUP BY a.id, a.code, a.asset, a.normal_side
          ORDER BY a.asset, a.code`
      : await this.db.client.$queryRaw<RawTrialRow[]>`
          SELECT a.code, a.asset, a.normal_side, sum(b.debits_posted)::text AS debits, sum(b.credits_posted)::text AS credits
          FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
          GROUP BY a.id, a.code, a.asset, a.normal_side
          HAVING sum(b.debits_posted) <> 0 OR sum(b.credits_posted) <> 0
          ORDER BY a.asset, a.code`;
    return rows.map((r) => ({
      account: r.code,
      asset: r.asset,
      normalSide: r.normal_side as Side,
      debits: new Decimal(r.debits),
      credits: new Decimal(r.credits),
    }));
  }

  /** Pending transactions past their expiry that nothing has settled yet. */
  async expiredHolds(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      SELECT t.id::text AS id FROM ledger_transactions t
      WHERE t.kind = 'pending' AND t.expires_at <= ${now}
        AND NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
      ORDER BY t.expires_at LIMIT ${limit}`;
    return rows.map((r) => r.id);
  }

  private remember(key: string, row: AccountRow): void {
    if (this.accounts.size >= ACCOUNT_CACHE_LIMIT) this.accounts.delete(this.accounts.keys().next().value!);
    this.accounts.set(key, row);
  }
}

interface RawAccount {
  created?: boolean;
  id: bigint;
  code: string;
  asset: string;
  normal_side: string;
  floor_zero: boolean;
  shards: number;
}

export interface HistoryRow {
  postingId: bigint;
  transactionId: string;
  type: string;
  side: Side;
  amount: Decimal;
  balanceAfter: Decimal | null;
  /** its own, or (a hold's posting, a reversal) the description of the transaction it settles or reverses */
  description: string | null;
  /** the type of the transaction it settles or reverses */
  originType: string | null;
  createdAt: Date;
}

interface RawHistory {
  id: bigint;
  transaction_id: string;
  type: string;
  side: string;
  amount: string;
  balance_after: string | null;
  description: string | null;
  origin_type: string | null;
  created_at: Date;
}

interface RawSums {
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
}

interface RawTrialRow {
  code: string;
  asset: string;
  normal_side: string;
  debits: string;
  credits: string;
}

function accountKey(code: string, asset: string): string {
  return `${code}\u0000${asset}`;
}

function toAccountRow(r: RawAccount): AccountRow {
  return {
    id: BigInt(r.id),
    code: r.code,
    asset: r.asset,
    normalSide: r.normal_side as Side,
    floorZero: r.floor_zero,
    shards: Number(r.shards),
  };
}

function toSums(r: RawSums): BalanceSums {
  return {
    debitsPosted: new Decimal(r.debits_posted),
    creditsPosted: new Decimal(r.credits_posted),
    debitsPending: new Decimal(r.debits_pending),
    creditsPending: new Decimal(r.credits_pending),
  };
}

