import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { PrismaService } from '../infra/database/prisma.service';
import { GENESIS_HASH, merkleProof, merkleRoot, ProofStep, sealHash } from './domain/merkle';

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

export interface TransactionProof {
  transactionId: string;
  canonical: string;
  transactionHash: string;
  seal: Seal;
  proof: ProofStep[];
}

/**
 * How long after its creation a transaction is sealed: longer than any database transaction may
 * last (30 s), so that every transaction created before the seal's end is committed (or gone)
 * when the seal is made. Sealing reads committed rows only: ordinary writes never wait for it.
 */
export const SEAL_MARGIN_MS = 60_000;
const SEAL_LOCK = 72707370;
/** At most this many transactions a seal: each seal is one short database transaction. */
export const MAX_PER_SEAL = 20_000;

@Injectable()
export class SealService {
  private readonly logger = new Logger('Seals');

  constructor(private readonly prisma: PrismaService) {}

  @Interval('ledger-seal', SEAL_MARGIN_MS)
  async periodic(): Promise<void> {
    try {
      await this.seal();
    } catch (error) {
      this.logger.error(`sealing failed: ${(error as Error).message}`);
    }
  }

  /**
   * Seals the transactions created since the last seal and before `until`, in seals of at most
   * MAX_PER_SEAL transactions (a backlog after downtime is caught up seal by seal, each in a short
   * database transaction). Returns the last seal made, or null when there was nothing to seal.
   */
  async seal(until = new Date(Date.now() - SEAL_MARGIN_MS)): Promise<Seal | null> {
    let latest: Seal | null = null;
    for (;;) {
      const made = await this.sealOnce(until);
      if (!made) return latest;
      latest = made;
    }
  }

  private sealOnce(until: Date): Promise<Seal | null> {
    return this.prisma.$transaction(
      async (tx) => {
        // one sealer at a time, across replicas
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEAL_LOCK})`;
        const last = await tx.ledgerSeal.findFirst({ orderBy: { id: 'desc' } });
        const from = last?.coversTo ?? new Date(0);
        if (until <= from) return null;
        let rows = await tx.$queryRaw<{ id: string; created_at: Date }[]>`
          SELECT id::text, created_at FROM ledger_transactions
          WHERE created_at >= ${from} AND created_at < ${until} ORDER BY created_at, id LIMIT ${MAX_PER_SEAL + 1}`;
        if (rows.length === 0) return null;
        let coversTo = until;
        if (rows.length > MAX_PER_SEAL) {
          // a full seal ends where the next transaction begins; its peers of the same instant wait too
          coversTo = rows[MAX_PER_SEAL].created_at;
          rows = rows.filter((r) => r.created_at < coversTo);
        }
        const hashes = await tx.$queryRaw<{ hash: string }[]>`
          SELECT ledger_transaction_hash(t.id) AS hash FROM unnest(${rows.map((r) => r.id)}::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY t.n`;
        const leaves = hashes.map((h) => h.hash);
        const previousHash = last?.hash ?? GENESIS_HASH;
        const id = (last?.id ?? 0n) + 1n;
        const seal = { id, coversFrom: from, coversTo, transactions: rows.length, merkleRoot: merkleRoot(leaves), previousHash };
        const created = await tx.ledgerSeal.create({ data: { ...seal, hash: sealHash(seal) } });
        await tx.$executeRaw`
          INSERT INTO ledger_seal_entries (seal_id, position, transaction_id, hash)
          SELECT ${id}, e.n - 1, e.id, e.hash FROM unnest(${rows.map((r) => r.id)}::uuid[], ${leaves}::text[])
            WITH ORDINALITY AS e(id, hash, n)`;
        this.logger.log(`seal ${id}: ${rows.length} transaction(s) up to ${coversTo.toISOString()}`);
        return created;
      },
      { maxWait: 15_000, timeout: 120_000 },
    );
  }

  async list(limit: number, cursor?: string): Promise<Page<Seal>> {
    const before = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.prisma.ledgerSeal.findMany({
      where: before ? { id: { lt: BigInt(before.id) } } : undefined,
      orderBy: { id: 'desc' },
      take: limit + 1,
    });
    return pageOf(rows, limit, (r) => r, (r) => ({ id: r.id.toString() }));
  }

  /** What an auditor needs to check one transaction against its seal, offline. */
  async proof(transactionId: string): Promise<TransactionProof> {
    const entry = await this.prisma.ledgerSealEntry.findUnique({ where: { transactionId } });
    if (!entry) throw notFound(`a seal of transaction ${transactionId} (it is sealed about a minute after it is made)`);
    const seal = (await this.prisma.ledgerSeal.findUnique({ where: { id: entry.sealId } }))!;
    const leaves = (await this.prisma.ledgerSealEntry.findMany({ where: { sealId: entry.sealId }, orderBy: { position: 'asc' }, select: { hash: true } })).map((e) => e.hash);
    const [canonical] = await this.prisma.$queryRaw<{ text: string }[]>`SELECT ledger_transaction_canonical(${transactionId}::uuid) AS text`;
    return { transactionId, canonical: canonical.text, transactionHash: entry.hash, seal, proof: merkleProof(leaves, entry.position) };
  }

  /**
   * The chain itself: each seal's root recomputed from its entries and its hash from the previous
   * seal. Returns the seals that do not hold (entries against the journal are a SQL check).
   */
  async brokenSeals(): Promise<string[]> {
    const broken: string[] = [];
    let previous = GENESIS_HASH;
    let after = 0n;
    for (;;) {
      // a few seals at a time, each with its hashes as one string: no row per entry crosses the wire
      const rows = await this.prisma.$queryRaw<(Omit<Seal, 'createdAt'> & { leaves: string | null })[]>`
        SELECT s.id, s.covers_from AS "coversFrom", s.covers_to AS "coversTo", s.transactions, s.merkle_root AS "merkleRoot",
               s.previous_hash AS "previousHash", s.hash,
               (SELECT string_agg(e.hash, '' ORDER BY e.position) FROM ledger_seal_entries e WHERE e.seal_id = s.id) AS leaves
        FROM ledger_seals s WHERE s.id > ${after} ORDER BY s.id LIMIT 20`;
      if (rows.length === 0) return broken;
      for (const seal of rows) {
        const leaves = seal.leaves?.match(/.{64}/g) ?? [];
        const ok =
          seal.previousHash === previous &&
          leaves.length === seal.transactions &&
          merkleRoot(leaves) === seal.merkleRoot &&
          sealHash(seal) === seal.hash;
        if (!ok) broken.push(`seal ${seal.id}`);
        previous = seal.hash;
        after = BigInt(seal.id);
      }
    }
  }
}
