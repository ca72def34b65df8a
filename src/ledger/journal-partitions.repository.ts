import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../infra/database/transaction-host';

/** One month of one journal table: the partition holding rows created in [from, to). */
export interface JournalPartition {
  table: string;
  name: string;
  from: Date;
  to: Date;
}

/**
 * The journal's monthly partitions (ledger_transactions, ledger_postings, ledger_lot_moves; see
 * prisma/migrations/20261203000000_journal_partitions): made ahead by ledger_partitions_ensure,
 * listed by ledger_partitions, both in the database so that the migration and the service make
 * them alike.
 */
@Injectable()
export class JournalPartitionsRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Creates the partitions missing for the current month and `ahead` more, in one database
   * transaction that waits at most `lockTimeoutMs` for a lock (attaching takes a SHARE UPDATE
   * EXCLUSIVE lock on each journal table: it waits only for other DDL or a VACUUM, never blocks
   * reads or writes; if it cannot have the lock soon it gives up, and the next firing tries
   * again). Returns the partitions it made.
   */
  ensure(ahead: number, lockTimeoutMs: number): Promise<string[]> {
    return this.db.run(async () => {
      await this.db.client.$queryRaw`SELECT set_config('lock_timeout', ${String(Math.max(1, Math.floor(lockTimeoutMs)))}, true)`;
      const rows = await this.db.client.$queryRaw<{ name: string }[]>`
        SELECT name FROM ledger_partitions_ensure(now(), ${ahead}::int) AS name`;
      return rows.map((r) => r.name);
    });
  }

  async list(): Promise<JournalPartition[]> {
    const rows = await this.db.client.$queryRaw<{ parent: string; name: string; from_at: Date; to_at: Date }[]>`
      SELECT parent, name, from_at, to_at FROM ledger_partitions()`;
    return rows.map((r) => ({ table: r.parent, name: r.name, from: r.from_at, to: r.to_at }));
  }
}
