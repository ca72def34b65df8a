import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';
import { checkpointMoves, latestCheckpoints } from './balance-checkpoints.sql';

/**
 * Balance checkpoints (ledger_balance_checkpoints): an account's sums of the postings created
 * before a moment, so that a balance as of a moment is a checkpoint plus the postings since it.
 */
@Injectable()
export class BalanceCheckpointsRepository {
  constructor(private readonly db: TransactionHost) {}

  /** The latest complete month's checkpoint, null when there is none. */
  async lastMonth(): Promise<Date | null> {
    const [row] = await this.db.client.$queryRaw<{ as_of: Date | null }[]>`SELECT max(as_of) AS as_of FROM ledger_checkpoint_months`;
    return row.as_of;
  }

  /** The creation time of the journal's first transaction at or after `from` (its first: null), null when there is none. */
  async firstActivity(from: Date | null = null): Promise<Date | null> {
    const [row] = await this.db.client.$queryRaw<{ at: Date | null }[]>`
      SELECT min(created_at) AS at FROM ledger_transactions WHERE created_at >= ${from ?? new Date(0)}`;
    return row.at;
  }

  /**
   * Writes the month's checkpoint at `asOf` (the first instant of a month): the previous month's
   * (at `previous`; none: the journal's beginning) plus the postings in between. One database
   * transaction, with the month's row in ledger_checkpoint_months; a month already made is left
   * as it is. Returns the accounts it has rows for, or null when it was made already.
   */
  writeMonth(previous: Date | null, asOf: Date): Promise<number | null> {
    return this.db.run(
      async () => {
        const tx = this.db.client;
        const claimed = await tx.$executeRaw`
          INSERT INTO ledger_checkpoint_months (as_of, accounts) VALUES (${asOf}, 0) ON CONFLICT (as_of) DO NOTHING`;
        if (claimed === 0) return null;
        const from = previous ?? new Date(0);
        const accounts = await tx.$executeRaw`
          INSERT INTO ledger_balance_checkpoints (account_id, as_of, debits_posted, credits_posted, debits_pending, credits_pending)
          SELECT account_id, ${asOf}, coalesce(sum(d), 0), coalesce(sum(c), 0), coalesce(sum(pd), 0), coalesce(sum(pc), 0)
          FROM (
            SELECT account_id, debits_posted AS d, credits_posted AS c, debits_pending AS pd, credits_pending AS pc
            FROM ledger_balance_checkpoints WHERE as_of = ${previous}
            UNION ALL ${checkpointMoves(from, asOf)}
          ) m GROUP BY account_id
          ON CONFLICT (account_id, as_of) DO UPDATE SET debits_posted = EXCLUDED.debits_posted, credits_posted = EXCLUDED.credits_posted,
            debits_pending = EXCLUDED.debits_pending, credits_pending = EXCLUDED.credits_pending`;
        await tx.$executeRaw`UPDATE ledger_checkpoint_months SET accounts = ${accounts} WHERE as_of = ${asOf}`;
        return accounts;
      },
      { timeout: 60 * 60_000, maxWait: 60_000 },
    );
  }

  /**
   * Rows at `to` for the accounts the journal touched in [from, to): each one's latest checkpoint
   * at or before `from` plus its postings in the range. Sound only when no posting of those
   * accounts lies between that checkpoint and `from`: true when `from` is the previous passed
   * reconciliation's high water (every passed run wrote rows for the accounts of its window, and a
   * month's checkpoint has every account). Returns the rows written.
   */
  writeVerified(from: Date, to: Date): Promise<number> {
    return this.db.client.$executeRaw`
      WITH moves AS (${checkpointMoves(from, to)}),
      base AS (${latestCheckpoints(Prisma.sql`SELECT DISTINCT account_id FROM moves`, from)})
      INSERT INTO ledger_balance_checkpoints (account_id, as_of, debits_posted, credits_posted, debits_pending, credits_pending)
      SELECT account_id, ${to}, coalesce(sum(d), 0), coalesce(sum(c), 0), coalesce(sum(pd), 0), coalesce(sum(pc), 0)
      FROM (SELECT * FROM base UNION ALL SELECT * FROM moves) m GROUP BY account_id
      ON CONFLICT (account_id, as_of) DO NOTHING`;
  }

  /** See BalanceCheckpointsService.pruneVerified. */
  pruneVerified(verifiedTo: Date): Promise<number> {
    // only after the month before it: older rows went when that month's checkpoint was the latest
    // (a range of the index on as_of, not every checkpoint ever made)
    return this.db.client.$executeRaw`
      WITH latest AS (SELECT max(as_of) AS t FROM ledger_checkpoint_months WHERE as_of <= ${verifiedTo}),
      before_it AS (SELECT coalesce(max(as_of), '-infinity'::timestamptz) AS t FROM ledger_checkpoint_months WHERE as_of < (SELECT t FROM latest))
      DELETE FROM ledger_balance_checkpoints c
      WHERE c.as_of < (SELECT t FROM latest) AND c.as_of > (SELECT t FROM before_it)`;
  }
}
