import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';

export interface Seal {
  id: bigint;
  coversFrom: Date;
  coversTo: Date;
  transactions: number;
  merkleRoot: string;
  previousHash: string;
  hash: string;
  createdAt: Date;
}

const SEAL_LOCK = 72707370;

/**
 * For the sealing transaction only: no bitmap or sequential scans, so that a seal walks its window
 * along the created_at index whatever the tables' statistics say (lockSealing).
 */
export const SEALING_PLANS_SQL = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`;

/** How many of the first $3 transactions created in [$1, $2) there are, and the millisecond of the latest (windowEnd). */
export const WINDOW_END_SQL = `
  SELECT count(*)::int AS n, date_trunc('milliseconds', max(w.created_at)) AS last FROM (
    SELECT created_at FROM ledger_transactions WHERE created_at >= $1 AND created_at < $2
    ORDER BY created_at LIMIT $3) w`;

/** The seals of the journal and their entries; reads and writes through the open transaction, if any. */
@Injectable()
export class SealRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * One sealer at a time, across replicas: held until the open transaction ends. Also, for this
   * transaction only, no bitmap or sequential scans: a seal walks its window along the
   * created_at index, whatever the tables' statistics say. After a prize day's burst they
   * describe a journal of before it (autovacuum's ANALYZE comes later, or never where it is
   * off), and with them the planner read the whole backlog (a million transactions) and sorted
   * it to take the first 20,001, once for every seal: 1 to 2.6 s a seal, a core for the whole award.
   */
  async lockSealing(): Promise<void> {
    await this.db.client.$executeRaw`SELECT pg_advisory_xact_lock(${SEAL_LOCK})`;
    await this.db.client.$executeRawUnsafe(SEALING_PLANS_SQL);
  }

  lastSeal(): Promise<Seal | null> {
    return this.db.client.ledgerSeal.findFirst({ orderBy: { id: 'desc' } });
  }

  /**
   * Where a seal that starts at `from` ends: `until`, or, when more than `max` transactions were
   * created in [from, until), the millisecond of the first one past `max` (its peers of the same
   * millisecond wait for the next seal: a seal's bounds are JavaScript Dates). Also how many the
   * window holds (0: nothing to seal). One row comes back, whatever the window's size. The first
   * `max` + 1 by created_at alone: which of the last millisecond's peers are among them changes
   * neither their count nor their latest time, and the index gives them in that order unsorted.
   */
  async windowEnd(from: Date, until: Date, max: number): Promise<{ coversTo: Date; transactions: number }> {
    const [row] = await this.db.client.$queryRawUnsafe<{ n: number; last: Date | null }[]>(WINDOW_END_SQL, from, until, max + 1);
    if (row.n <= max) return { coversTo: until, transactions: row.n };
    const [counted] = await this.db.client.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM ledger_transactions WHERE created_at >= ${from} AND created_at < ${row.last}`;
    return { coversTo: row.last!, transactions: counted.n };
  }

  /**
   * The hashes of the transactions created in [from, to), in the seals' order (created_at, id),
   * as ledger_transaction_hash makes each (its definition written out in one query, planned once),
   * 64 hex characters each, as one string: 20,000 transactions come back as one value, not as
   * 20,000 rows whose objects the process would keep through the seal (under a prize day's load
   * the seals' rows were the serving process's garbage by the hundred megabytes). A transaction's
   * postings share its created_at, so they are looked for in the window's months only (the bounds
   * are the statement's values, so the planner drops the other months' partitions once, rather
   * than probing every month's index for every transaction).
   */
  async windowHashes(from: Date, to: Date): Promise<string> {
    const [row] = await this.db.client.$queryRaw<{ leaves: string | null }[]>`
      SELECT string_agg(encode(sha256(convert_to(ledger_canonical(t, (
               SELECT string_agg(ledger_posting_text(a.code, p), ';' ORDER BY p.id)
               FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
               WHERE p.transaction_id = t.id AND p.created_at >= ${from} AND p.created_at < ${to})), 'UTF8')), 'hex'),
             '' ORDER BY t.created_at, t.id) AS leaves
      FROM ledger_transactions t WHERE t.created_at >= ${from} AND t.created_at < ${to}`;
    return row.leaves ?? '';
  }

  /**
   * Writes a seal and its entries: the transactions created in [coversFrom, coversTo) in the
   * seals' order, each with its hash from `leaves` (as windowHashes gave them, in that order).
   * Refuses (and so rolls the seal back) if the window no longer holds as many transactions as
   * there are leaves (one more: its entry has no hash, which the table refuses; one fewer: counted).
   */
  async create(seal: Omit<Seal, 'createdAt'>, leaves: string[]): Promise<Seal> {
    const created = await this.db.client.ledgerSeal.create({ data: seal });
    const entries = await this.db.client.$executeRaw`
      INSERT INTO ledger_seal_entries (seal_id, position, transaction_id, hash)
      SELECT ${seal.id}, w.n - 1, w.id, l.hash FROM (
        SELECT t.id, row_number() OVER (ORDER BY t.created_at, t.id) AS n FROM ledger_transactions t
        WHERE t.created_at >= ${seal.coversFrom} AND t.created_at < ${seal.coversTo}) w
      LEFT JOIN unnest(${leaves}::text[]) WITH ORDINALITY AS l(hash, n) ON l.n = w.n`;
    if (entries !== leaves.length) {
      throw new Error(`seal ${seal.id}: its window holds ${entries} transactions, not the ${leaves.length} hashed`);
    }
    return created;
  }

  /** Seals newest first, before an id. */
  list(beforeId: bigint | undefined, take: number): Promise<Seal[]> {
    return this.db.client.ledgerSeal.findMany({
      where: beforeId !== undefined ? { id: { lt: beforeId } } : undefined,
      orderBy: { id: 'desc' },
      take,
    });
  }

  findEntry(transactionId: string): Promise<{ sealId: bigint; position: number; hash: string } | null> {
    return this.db.client.ledgerSealEntry.findUnique({ where: { transactionId }, select: { sealId: true, position: true, hash: true } });
  }

  findSeal(id: bigint): Promise<Seal | null> {
    return this.db.client.ledgerSeal.findUnique({ where: { id } });
  }

  async leavesOf(sealId: bigint): Promise<string[]> {
    const rows = await this.db.client.ledgerSealEntry.findMany({ where: { sealId }, orderBy: { position: 'asc' }, select: { hash: true } });
    return rows.map((e) => e.hash);
  }

  /** The canonical text of a transaction that its hash is taken of. */
  async canonical(transactionId: string): Promise<string> {
    const [row] = await this.db.client.$queryRaw<{ text: string }[]>`SELECT ledger_transaction_canonical(${transactionId}::uuid) AS text`;
    return row.text;
  }

  /** A few seals after an id, each with its entries' hashes as one string: no row per entry crosses the wire. */
  sealsWithLeaves(afterId: bigint, take: number): Promise<(Omit<Seal, 'createdAt'> & { leaves: string | null })[]> {
    return this.db.client.$queryRaw<(Omit<Seal, 'createdAt'> & { leaves: string | null })[]>`
      SELECT s.id, s.covers_from AS "coversFrom", s.covers_to AS "coversTo", s.transactions, s.merkle_root AS "merkleRoot",
             s.previous_hash AS "previousHash", s.hash,
             (SELECT string_agg(e.hash, '' ORDER BY e.position) FROM ledger_seal_entries e WHERE e.seal_id = s.id) AS leaves
      FROM ledger_seals s WHERE s.id > ${afterId} ORDER BY s.id LIMIT ${take}`;
  }
}
