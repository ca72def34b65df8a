import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { Decimal } from '../common/money';
import { Prisma } from '../generated/prisma/client';
import { arrayLiteral } from '../infra/database/array-literal';
import { TransactionHost } from '../infra/database/transaction-host';
import { postingIdFloor } from './balance-checkpoints.sql';
import { AccountSpec, OWNER_PREFIX, Side } from './domain/account';
import { ExpiryPolicy } from './domain/expiry';
import { BalanceSums } from './domain/balance';
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

/**
 * A transaction to write through the ledger's one door (ledger_record): its postings, and for a
 * settlement the hold it settles (pendingId). The door derives the balance changes itself.
 */
export interface NewJournalEntry {
  id: string;
  type: string;
  kind: TransactionKind;
  pendingId?: string;
  reversesId?: string;
  expiresAt?: Date;
  /** when the points this transaction credits to a resident expire (their lot's expiry); none: never */
  creditExpiresAt?: Date;
  metadata: Record<string, unknown>;
  description?: string;
  effectiveAt?: Date;
  /** `shard`: the balance row, when the write must use one it already holds (else the door picks) */
  postings: { accountId: bigint; shard?: number; asset: string; side: Side; amount: Decimal }[];
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

/** Raised by ledger_record() when a floor-zero account would go below zero (DETAIL: the account id). */
export const SQLSTATE_INSUFFICIENT = 'CL001';
/** Raised by ledger_record() when the postings are not a valid transaction (unbalanced, say). */
export const SQLSTATE_INVALID = 'CL002';
/** Raised by ledger_record() when the hold to settle is not open (settled, expired, unknown). */
export const SQLSTATE_NOT_OPEN = 'CL003';

const ACCOUNT_CACHE_LIMIT = 100_000;

/** The call of the ledger's one door: every array as one text literal, cast here (see arrayLiteral). */
const LEDGER_RECORD_SQL = `SELECT created_at, floor_accounts, available_after::text[] AS available_after FROM ledger_record(
  $1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::timestamptz[], $7::jsonb[], $8::text[], $9::timestamptz[],
  $10::timestamptz[], $11::int[], $12::bigint[], $13::smallint[], $14::text[], $15::text[], $16::numeric[], $17::bigint[])`;

interface RawRecorded {
  created_at: Date;
  floor_accounts: (bigint | string)[];
  available_after: string[];
}

/**
 * What the account's expired holds that are not released yet still reserve (debits, credits):
 * subtracted from its pending sums, since a hold stops holding at its expiry. A tiny table
 * (the open holds that expire), one index probe.
 */
export const EXPIRED_HOLDS_OF_SQL = `SELECT coalesce(sum(h.amount) FILTER (WHERE h.side = 'D'), 0) AS debits,
  coalesce(sum(h.amount) FILTER (WHERE h.side = 'C'), 0) AS credits
  FROM ledger_open_holds h WHERE h.expires_at <= now() AND h.account_id = `;
export const EXPIRED_HOLDS_OF = Prisma.raw(EXPIRED_HOLDS_OF_SQL);

/**
 * What a resident account's lots that have expired and are not recorded yet still hold: a lot
 * stops counting at its expiry, not when the expiry run records it. Asked only when the balance
 * row's next_expiry has passed (one probe of the open lots' index).
 */
export const EXPIRED_LOTS_OF_SQL = `SELECT coalesce(sum(l.remaining), 0) FROM ledger_lots l
  WHERE l.remaining > 0 AND l.expires_at <= now() AND l.account_id = `;
export const EXPIRED_LOTS_OF = Prisma.raw(EXPIRED_LOTS_OF_SQL);

/** Where the expiry run goes on from: the last lot a chunk looked at (its expiry as PostgreSQL's text). */
export interface LotCursor {
  expiresAt: string;
  id: string;
}

/** A chunk of the expiry run in one statement (ledger_expire_lots takes the run's lock itself). */
const EXPIRE_LOTS_SQL = `SELECT last_expires_at, last_id::text AS last_id, accounts
  FROM ledger_expire_lots($1::timestamptz, $2::timestamptz, $3::bigint, $4::int)`;

interface RawExpiredChunk {
  last_expires_at: string;
  last_id: string | null;
  accounts: number;
}

/**
 * The ledger's tables. Accounts are created on first use; their ids are remembered (they never
 * change, so no expiry; the least recently used go beyond ACCOUNT_CACHE_LIMIT) so that the hot
 * path does not look them up again.
 */
@Injectable()
export class LedgerRepository {
  private readonly accounts = new LRUCache<string, AccountRow>({ max: ACCOUNT_CACHE_LIMIT });
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
    // on the driver (a resident's balance asks for an account that may not exist yet, each time)
    const [row] = await this.db.read<RawAccount>(
      'ledger_find_account',
      'SELECT id::text AS id, code, asset, normal_side, floor_zero, shards FROM ledger_accounts WHERE code = $1 AND asset = $2',
      [code, asset],
    );
    if (!row) return null;
    const account = toAccountRow(row);
    this.remember(key, account);
    return account;
  }

  /**
   * Writes transactions (one, or a batch) through the ledger's one door, ledger_record, in one
   * statement: it checks them, derives and checks the balance changes, locks the balance rows
   * in the ledger's order and writes the journal. Returns when they were written and what each
   * floor-zero account it changed has available after them.
   *
   * Outside a transaction on PostgreSQL (a single write: the ledger service's own callers, the
   * benchmark's single writes) the call is a named prepared statement straight on the driver,
   * planned once per connection and without Prisma's per-query work, as the other hot paths
   * are; inside a transaction it goes through the transaction's client.
   */
  async record(
    entries: NewJournalEntry[],
    expireAccounts: bigint[] = [],
  ): Promise<{ createdAt: Date; availableAfter: Map<bigint, Decimal> }> {
    const p = entries.flatMap((e, i) => e.postings.map((x) => ({ ...x, tx: i + 1 })));
    const iso = (d: Date | undefined) => d?.toISOString() ?? null;
    const params = [
      arrayLiteral(entries.map((e) => e.id)),
      arrayLiteral(entries.map((e) => e.type)),
      arrayLiteral(entries.map((e) => e.kind)),
      arrayLiteral(entries.map((e) => e.pendingId)),
      arrayLiteral(entries.map((e) => e.reversesId)),
      arrayLiteral(entries.map((e) => iso(e.expiresAt))),
      arrayLiteral(entries.map((e) => JSON.stringify(e.metadata))),
      arrayLiteral(entries.map((e) => e.description)),
      arrayLiteral(entries.map((e) => iso(e.effectiveAt))),
      arrayLiteral(entries.map((e) => iso(e.creditExpiresAt))),
      arrayLiteral(p.map((x) => x.tx)),
      arrayLiteral(p.map((x) => x.accountId)),
      arrayLiteral(p.map((x) => x.shard)),
      arrayLiteral(p.map((x) => x.asset)),
      arrayLiteral(p.map((x) => x.side)),
      arrayLiteral(p.map((x) => x.amount.toFixed())),
      arrayLiteral(expireAccounts),
    ];
    const [row] = await this.db.write<RawRecorded>('ledger_record', LEDGER_RECORD_SQL, params);
    // bigint[] comes back as text from the driver, as bigint from Prisma: BigInt takes both
    const availableAfter = new Map(row.floor_accounts.map((id, i) => [BigInt(id), new Decimal(row.available_after[i])]));
    return { createdAt: row.created_at, availableAfter };
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
      settlement: row.settlements[0] ? { ...row.settlements[0], kind: row.settlements[0].kind as TransactionKind } : null,
      reversalId: row.reversals[0]?.id ?? null,
    };
  }

  /**
   * The running balance: the sum of the account's few balance rows, less the holds that have
   * expired and are not released yet (a hold stops holding at its expiry, not at the sweep).
   */
  async balanceSums(accountId: bigint): Promise<BalanceSums> {
    const [row] = await this.db.client.$queryRaw<RawSums[]>`
      SELECT (coalesce(sum(b.debits_posted), 0)
               + CASE WHEN max(b.next_expiry) <= now() THEN (${EXPIRED_LOTS_OF}(${accountId}::bigint)) ELSE 0 END)::text AS debits_posted,
             coalesce(sum(b.credits_posted), 0)::text AS credits_posted,
             (coalesce(sum(b.debits_pending), 0) - x.debits)::text AS debits_pending,
             (coalesce(sum(b.credits_pending), 0) - x.credits)::text AS credits_pending
      FROM account_balances b, (${EXPIRED_HOLDS_OF}(${accountId}::bigint)) x
      WHERE b.account_id = ${accountId}
      GROUP BY x.debits, x.credits`;
    return row ? toSums(row) : toSums({ debits_posted: '0', credits_posted: '0', debits_pending: '0', credits_pending: '0' });
  }

  /**
   * The balance as it stood at a past moment, from the journal: posted sums from the account's
   * nearest checkpoint at or before it plus its postings since; pending ones (a hold stops holding
   * at its expiry, which a checkpoint does not know) from its pending postings.
   */
  async balanceSumsAsOf(accountId: bigint, asOf: Date, postedOnly = false): Promise<BalanceSums> {
    // the checkpoint first: the postings since it are then planned with their bounds known (the
    // months from it to asOf, pruned at planning; a subquery's bound had every month planned, and
    // planning grew with the journal's months)
    const [cp] = await this.db.client.$queryRaw<{ as_of: Date; debits_posted: string; credits_posted: string }[]>`
      SELECT as_of, debits_posted::text, credits_posted::text FROM ledger_balance_checkpoints
      WHERE account_id = ${accountId} AND as_of <= ${asOf} ORDER BY as_of DESC LIMIT 1`;
    const since = cp?.as_of ?? new Date(0);
    // the posting-id floor looks for the last transaction a month before `since` at most (none
    // there: 0, which only reads more of the account's index)
    const floorFrom = new Date(since.getTime() - 31 * 86_400_000);
    const pending = postedOnly
      ? Prisma.sql`SELECT 0 AS d, 0 AS c`
      : Prisma.sql`
        SELECT
          coalesce(sum(p.amount) FILTER (WHERE p.side = 'D' AND s.id IS NULL AND NOT coalesce(h.expires_at <= ${asOf}, false)), 0) AS d,
          coalesce(sum(p.amount) FILTER (WHERE p.side = 'C' AND s.id IS NULL AND NOT coalesce(h.expires_at <= ${asOf}, false)), 0) AS c
        FROM ledger_postings p
        LEFT JOIN ledger_transactions s ON s.pending_id = p.transaction_id AND s.created_at <= ${asOf}
        -- a hold stopped holding at its expiry, released or not
        LEFT JOIN ledger_transactions h ON h.id = p.transaction_id AND h.created_at = p.created_at
        WHERE p.account_id = ${accountId} AND p.pending AND p.created_at <= ${asOf}`;
    const [row] = await this.db.client.$queryRaw<RawSums[]>`
      WITH posted AS (
        SELECT coalesce(sum(p.amount) FILTER (WHERE p.side = 'D'), 0) AS d, coalesce(sum(p.amount) FILTER (WHERE p.side = 'C'), 0) AS c
        FROM ledger_postings p
        WHERE p.account_id = ${accountId} AND p.id > ${postingIdFloor(since, floorFrom)}
          AND p.created_at >= ${since} AND p.created_at <= ${asOf} AND NOT p.pending),
      pending AS (${pending})
      SELECT (${cp?.debits_posted ?? '0'}::numeric + posted.d)::text AS debits_posted,
             (${cp?.credits_posted ?? '0'}::numeric + posted.c)::text AS credits_posted,
             pending.d::text AS debits_pending, pending.c::text AS credits_pending
      FROM posted, pending`;
    return toSums(row);
  }

  /**
   * Pending transactions past their expiry that nothing has settled yet, oldest expiry first: read
   * from ledger_open_holds (the open holds that expire, kept by ledger_record: small), not from
   * the journal, whose pending transactions, settled or not, only grow. The reconciliation's
   * open_holds_match_journal proves the list against the journal.
   */
  async expiredHolds(now: Date, limit: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      SELECT h.transaction_id::text AS id FROM ledger_open_holds h
      WHERE h.expires_at <= ${now}
      GROUP BY h.transaction_id, h.expires_at
      ORDER BY h.expires_at LIMIT ${limit}`;
    return rows.map((r) => r.id);
  }

  /**
   * A chunk of the expiry run, one statement (ledger_expire_lots, its own transaction): if no
   * other process runs the expiry (a transaction-scoped advisory lock), the resident accounts of
   * the next `limit` expired open lots after the cursor (by expiry, id) have their expired lots
   * recorded by the ledger's door, in that same statement. Returns the cursor of the next chunk
   * (the last lot looked at; its expiry as PostgreSQL's text, so that no microsecond is lost) and
   * how many accounts were handed over, or null when there is nothing (more) to do or another
   * process is running it.
   */
  async expireLotsChunk(now: Date, after: LotCursor | null, limit: number): Promise<{ last: LotCursor; accounts: number } | null> {
    const params = [now.toISOString(), after?.expiresAt ?? '-infinity', after?.id ?? '0', limit];
    const [row] = await this.db.write<RawExpiredChunk>('ledger_expire_lots', EXPIRE_LOTS_SQL, params);
    if (!row || row.last_id === null) return null;
    return { last: { expiresAt: row.last_expires_at, id: String(row.last_id) }, accounts: Number(row.accounts) };
  }

  /** What a resident account holds in open lots that expire later than now, per expiry moment. */
  async expiringOf(accountId: bigint, limit = 1000): Promise<{ expiresAt: Date; amount: Decimal }[]> {
    const rows = await this.db.read<{ expires_at: Date; amount: string }>(
      'ledger_expiring_of',
      `SELECT l.expires_at, sum(l.remaining)::text AS amount FROM ledger_lots l
       WHERE l.account_id = $1::bigint AND l.remaining > 0 AND l.expires_at > now()
       GROUP BY l.expires_at ORDER BY l.expires_at LIMIT $2::int`,
      [accountId.toString(), limit],
    );
    return rows.map((r) => ({ expiresAt: r.expires_at, amount: new Decimal(r.amount) }));
  }

  /**
   * The lot a credit made to an account: what it still holds and how much of it has expired
   * (recorded by expiry transactions, or past its expiry and not recorded yet); null if none.
   */
  async lotOf(transactionId: string, accountId: bigint): Promise<{ remaining: Decimal; expired: Decimal } | null> {
    const [row] = await this.db.client.$queryRaw<{ remaining: string | null; expired: string }[]>`
      WITH l AS (SELECT id, remaining, expires_at FROM ledger_lots WHERE transaction_id = ${transactionId}::uuid AND account_id = ${accountId})
      SELECT (SELECT sum(remaining) FROM l)::text AS remaining,
             ((SELECT coalesce(sum(remaining) FILTER (WHERE expires_at <= now()), 0) FROM l)
              + (SELECT coalesce(sum(m.amount), 0) FROM ledger_lot_moves m JOIN l ON l.id = m.lot_id
                 JOIN ledger_transactions t ON t.id = m.transaction_id AND t.type = 'expiry'))::text AS expired`;
    return row && row.remaining !== null ? { remaining: new Decimal(row.remaining), expired: new Decimal(row.expired) } : null;
  }

  async expiryPolicy(): Promise<ExpiryPolicy> {
    const [row] = await this.db.client.$queryRaw<{ after_days: number | null; round_up_to: string; notice_days: number }[]>`
      SELECT after_days, round_up_to, notice_days FROM expiry_policy`;
    return row
      ? { afterDays: row.after_days, roundUpTo: row.round_up_to as ExpiryPolicy['roundUpTo'], noticeDays: row.notice_days }
      : { afterDays: null, roundUpTo: 'day', noticeDays: 0 };
  }

  async saveExpiryPolicy(policy: ExpiryPolicy): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE expiry_policy SET after_days = ${policy.afterDays}, round_up_to = ${policy.roundUpTo},
        notice_days = ${policy.noticeDays}, updated_at = now()`;
  }

  /**
   * Notices not sent yet of dates within `noticeDays`: per resident account and expiry moment,
   * the points that will expire then; each is marked sent (once per account and date) and
   * published to the webhooks' outbox, in one statement.
   */
  async sendExpiryNotices(noticeDays: number, limit: number): Promise<number> {
    const [row] = await this.db.client.$queryRaw<{ n: number }[]>`
      WITH due AS (
        SELECT l.account_id, l.expires_at, sum(l.remaining) AS amount FROM ledger_lots l
        WHERE l.remaining > 0 AND l.expires_at > now() AND l.expires_at <= now() + make_interval(days => ${noticeDays}::int)
          AND NOT EXISTS (SELECT 1 FROM expiry_notices n WHERE n.account_id = l.account_id AND n.expires_at = l.expires_at)
        GROUP BY l.account_id, l.expires_at ORDER BY l.expires_at, l.account_id LIMIT ${limit}
      ), sent AS (
        INSERT INTO expiry_notices (account_id, expires_at) SELECT account_id, expires_at FROM due
        ON CONFLICT DO NOTHING RETURNING account_id, expires_at
      ), events AS (
        SELECT substr(a.code, ${OWNER_PREFIX.resident.length + 1}::int) AS resident_id, d.amount, d.expires_at
        FROM sent s JOIN due d ON d.account_id = s.account_id AND d.expires_at = s.expires_at JOIN ledger_accounts a ON a.id = s.account_id
      ), published AS (
        SELECT webhook_publish(array_agg('points.expiring'::text ORDER BY e.expires_at, e.resident_id),
          array_agg(e.resident_id ORDER BY e.expires_at, e.resident_id),
          array_agg(NULL::text ORDER BY e.expires_at, e.resident_id), array_agg(NULL::text ORDER BY e.expires_at, e.resident_id),
          array_agg(jsonb_build_object('residentId', e.resident_id, 'points', e.amount::text,
            'expiresAt', webhook_iso_time(e.expires_at), 'noticeDays', ${noticeDays}::int) ORDER BY e.expires_at, e.resident_id))
        FROM events e HAVING count(*) > 0
      )
      SELECT (SELECT count(*) FROM sent)::int AS n, (SELECT count(*) FROM published)::int AS p`;
    return row.n;
  }

  private remember(key: string, row: AccountRow): void {
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

interface RawSums {
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
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
