import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { notFound } from '../common/errors';
import { decodeCursor, Page, pageOf } from '../common/pagination';
import { TransactionHost } from '../infra/database/transaction-host';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { GENESIS_HASH, merkleProof, merkleRootOfHex, ProofStep, sealHash } from './domain/merkle';
import { Seal, SealRepository } from './seal.repository';

export type { Seal } from './seal.repository';

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
/** At most this many transactions a seal: each seal is one short database transaction. */
export const MAX_PER_SEAL = 20_000;

@Injectable()
export class SealService {
  private readonly logger = new Logger('Seals');

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: SealRepository,
    private readonly leases: ScheduleLeases,
  ) {}

  /** Sealing runs in one process at a time (the others' firings do nothing; see ScheduleLeases). */
  @Interval('ledger-seal', SEAL_MARGIN_MS)
  async periodic(): Promise<void> {
    try {
      await this.leases.exclusive('ledger-seal', 3 * SEAL_MARGIN_MS, () => this.seal());
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
    return this.db.run(
      async () => {
        await this.repository.lockSealing();
        const last = await this.repository.lastSeal();
        const from = last?.coversTo ?? new Date(0);
        if (until <= from) return null;
        // the window's rows stay in the database: its end and size, then its hashes as one string,
        // then its entries written from the same window with those hashes (a seal of 20,000
        // transactions held 20,000 row objects and their ids' arrays in this process, for seconds)
        const { coversTo, transactions } = await this.repository.windowEnd(from, until, MAX_PER_SEAL);
        if (transactions === 0) return null;
        const hashes = await this.repository.windowHashes(from, coversTo);
        const leaves = hashes.match(/.{64}/g) ?? [];
        const previousHash = last?.hash ?? GENESIS_HASH;
        const id = (last?.id ?? 0n) + 1n;
        // the tree is hashed a slice at a time: a seal of 20,000 held the event loop 50-90 ms in one
        // piece, every 20,000 transactions of a prize day (the requests then served waited for it)
        const merkleRoot = await merkleRootOfHex(hashes);
        if (merkleRoot === null) throw new Error(`seal ${id}: the window's hashes are not whole sha256 hex digests`);
        const seal = { id, coversFrom: from, coversTo, transactions: leaves.length, merkleRoot, previousHash };
        const created = await this.repository.create({ ...seal, hash: sealHash(seal) }, leaves);
        this.logger.log(`seal ${id}: ${leaves.length} transaction(s) up to ${coversTo.toISOString()}`);
        return created;
      },
      { maxWait: 15_000, timeout: 120_000 },
    );
  }

  async list(limit: number, cursor?: string): Promise<Page<Seal>> {
    const before = decodeCursor<{ id: string }>(cursor, ['id']);
    const rows = await this.repository.list(before ? BigInt(before.id) : undefined, limit + 1);
    return pageOf(
      rows,
      limit,
      (r) => r,
      (r) => ({ id: r.id.toString() }),
    );
  }

  /** What an auditor needs to check one transaction against its seal, offline. */
  async proof(transactionId: string): Promise<TransactionProof> {
    const entry = await this.repository.findEntry(transactionId);
    if (!entry) throw notFound(`a seal of transaction ${transactionId} (it is sealed about a minute after it is made)`);
    const seal = (await this.repository.findSeal(entry.sealId))!;
    const leaves = await this.repository.leavesOf(entry.sealId);
    const canonical = await this.repository.canonical(transactionId);
    return { transactionId, canonical, transactionHash: entry.hash, seal, proof: merkleProof(leaves, entry.position) };
  }

  /**
   * The chain itself: each seal's root recomputed from its entries and its hash from the previous
   * seal, after `afterSeal` (0: all of it). Returns the seals that do not hold (entries against the
   * journal are a SQL check).
   */
  async brokenSeals(afterSeal = 0n): Promise<string[]> {
    const broken: string[] = [];
    // an incremental run starts after the last seal a passed run verified, from its hash
    let previous = afterSeal > 0n ? ((await this.repository.findSeal(afterSeal))?.hash ?? 'missing') : GENESIS_HASH;
    let after = afterSeal;
    for (;;) {
      const rows = await this.repository.sealsWithLeaves(after, 20);
      if (rows.length === 0) return broken;
      for (const seal of rows) {
        const leaves = seal.leaves ?? '';
        // each tree hashed a slice at a time (merkleRootOfHex): the nightly check of a city's chain
        // hashes millions of leaves in the serving process
        const ok =
          seal.previousHash === previous &&
          leaves.length === 64 * seal.transactions &&
          (await merkleRootOfHex(leaves)) === seal.merkleRoot &&
          sealHash(seal) === seal.hash;
        if (!ok) broken.push(`seal ${seal.id}`);
        previous = seal.hash;
        after = BigInt(seal.id);
      }
    }
  }
}
