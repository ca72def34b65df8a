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

/** The seals of the journal and their entries; reads and writes through the open transaction, if any. */
@Injectable()
export class SealRepository {
  constructor(private readonly db: TransactionHost) {}

  /** One sealer at a time, across replicas: held until the open transaction ends. */
  async lockSealing(): Promise<void> {
    await this.db.client.$executeRaw`SELECT pg_advisory_xact_lock(${SEAL_LOCK})`;
  }

  lastSeal(): Promise<Seal | null> {
    return this.db.client.ledgerSeal.findFirst({ orderBy: { id: 'desc' } });
  }

  /** The journal's transactions created in [from, until), in the seals' order, `take` at most. */
  transactionsBetween(from: Date, until: Date, take: number): Promise<{ id: string; created_at: Date }[]> {
    return this.db.client.$queryRaw<{ id: string; created_at: Date }[]>`
      SELECT id::text, created_at FROM ledger_transactions
      WHERE created_at >= ${from} AND created_at < ${until} ORDER BY created_at, id LIMIT ${take}`;
  }

  /**
   * Each transaction's hash, in the order given: ledger_transaction_hash's definition written out
   * in one query (planned once), rather than a call of it per transaction (two statements planned
   * for each: minutes for the 20,000 transactions of a seal after a prize day, on a busy server).
   */
  async hashesOf(ids: string[]): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<{ hash: string }[]>`
      SELECT encode(sha256(convert_to(ledger_canonical(t, (
               SELECT string_agg(ledger_posting_text(a.code, p), ';' ORDER BY p.id)
               FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id WHERE p.transaction_id = t.id)), 'UTF8')), 'hex') AS hash
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS x(id, n) LEFT JOIN ledger_transactions t ON t.id = x.id
      ORDER BY x.n`;
    return rows.map((r) => r.hash);
  }

  /** Writes a seal and its entries (transaction ids with their hashes, in position order). */
  async create(seal: Omit<Seal, 'createdAt'>, ids: string[], leaves: string[]): Promise<Seal> {
    const created = await this.db.client.ledgerSeal.create({ data: seal });
    await this.db.client.$executeRaw`
      INSERT INTO ledger_seal_entries (seal_id, position, transaction_id, hash)
      SELECT ${seal.id}, e.n - 1, e.id, e.hash FROM unnest(${ids}::uuid[], ${leaves}::text[])
        WITH ORDINALITY AS e(id, hash, n)`;
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
