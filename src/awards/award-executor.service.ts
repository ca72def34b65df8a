import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/errors';
import { Decimal } from '../common/money';
import { APP_CONFIG, AppConfig } from '../config/config';
import { databaseErrorOf } from '../infra/database/prisma.service';
import { TransactionHost } from '../infra/database/transaction-host';
import { accrual, payDebtFirst } from '../ledger/domain/accrual';
import { LedgerReadService } from '../ledger/ledger-read.service';
import { LedgerService, NewTransaction, SQLSTATE_TOO_SLOW } from '../ledger/ledger.service';
import { AwardRecord, AwardsRepository, PendingRow } from './awards.repository';
import { awardTransactionId } from './domain/award';

export const AWARD_TYPE = 'award';

/**
 * Credits an award's rows, a chunk at a time: each chunk is one database transaction that
 * locks its rows (rows another chunk holds are skipped), marks them credited and writes their
 * accruals through the ledger's door: one statement, award_credit_chunk, or (a chunk with a
 * resident in debt, one the door refuses) here, through `LedgerService.recordMany`. A row is
 * credited exactly once whoever runs it, however often, and whatever dies on the way: a chunk
 * commits whole or not at all, and a credited row is never picked again.
 */
@Injectable()
export class AwardExecutor {
  private readonly logger = new Logger('AwardExecutor');

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: AwardsRepository,
    private readonly ledger: LedgerService,
    private readonly reads: LedgerReadService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Runs the award until no row is left (then marks it done) or `signal` aborts (the process is
   * stopping: its lease is released, so that the next process takes over at once). With `force`,
   * runs even while another process holds it (an explicit execute): chunks never overlap.
   * Returns whether this call finished the award.
   */
  async run(id: string, { signal, force = false }: { signal?: AbortSignal; force?: boolean } = {}): Promise<boolean> {
    const { leaseSeconds, concurrency, chunkRows } = this.config.awards;
    if (!(await this.repository.takeLease(id, leaseSeconds, force))) return false;
    const award = (await this.repository.find(id))!;
    const started = Date.now();
    // every row up to here is credited (or failed), or held by a chunk still running: a chunk
    // looks past it, rather than over the index entries of every row credited before it (a
    // million of them by the end of a prize day)
    let watermark = 0;
    const chunk = async (after: number) => {
      const { settled, last } = await this.creditChunk(award, chunkRows, after);
      watermark = Math.max(watermark, last);
      return settled;
    };
    const lane = async () => {
      while (!signal?.aborted) {
        if ((await chunk(watermark)) > 0) continue;
        // a last look from the first row: rows another process held, or of a chunk that rolled back
        if ((await chunk(0)) === 0) return;
      }
    };
    try {
      // the embedded database serves one session: one chunk at a time there
      await Promise.all(Array.from({ length: this.db.standalone ? concurrency : 1 }, lane));
    } catch (error) {
      // the lease runs out by itself; the sweeper (or a retried job) goes on from the last chunk
      this.logger.warn(`award ${id} stopped: ${(error as Error).message}; it resumes from its last credited chunk`);
      throw error;
    }
    if (signal?.aborted) {
      await this.repository.releaseLease(id);
      return false;
    }
    const done = await this.repository.complete(id);
    if (done) this.logger.log(`award ${id} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return done;
  }

  /**
   * Credits up to `limit` rows of the award after line `after`, in one transaction; returns how
   * many rows it settled and the last line it took. In one statement (award_credit_chunk: no row
   * comes into this process), unless the chunk needs the accrual rule here (a resident in debt)
   * or the door refused it (then each refusal goes to the error file, row by row).
   */
  private async creditChunk(award: AwardRecord, limit: number, after: number): Promise<{ settled: number; last: number }> {
    try {
      const chunk = await this.repository.creditChunk(award.id, limit, after, this.config.awards.leaseSeconds);
      if (!chunk.fallback) return chunk;
    } catch (error) {
      const sqlState = databaseErrorOf(error).sqlState;
      // a refusal goes row by row; a call past the door's bound (its locks held elsewhere too
      // long) wrote nothing and is run again from the last chunk, as after any other failure
      if (!sqlState?.startsWith('CL') || sqlState === SQLSTATE_TOO_SLOW) throw error;
    }
    return this.db.run(() => this.creditChunkHere(award, limit, after));
  }

  /**
   * The chunk through the service's accrual rule, in the open transaction. Its residents' debts
   * are read after the lock that these chunks take one at a time (across lanes, processes and
   * awards), so that what one chunk paid off is seen by the next: a resident's rows can be in
   * two chunks at once (a chunk that award_credit_chunk left here has let its rows go, and
   * another lane may take some of them), and two chunks reading the same unpaid debt would both
   * pay it, the second refused by the door (its rows put in the error file, the debt left owed).
   */
  private async creditChunkHere(award: AwardRecord, limit: number, after: number): Promise<{ settled: number; last: number }> {
    await this.repository.lockDebtPayments();
    const rows = await this.repository.lockPending(award.id, limit, after);
    if (rows.length === 0) return { settled: 0, last: 0 };
    const debts = await this.debtsOf(rows.map((r) => r.residentId));
    const credits = rows.map((row) => ({ row, transaction: this.creditOf(award, row, debts) }));
    const failed: { line: number; reason: string }[] = [];
    let credited = credits;
    try {
      await this.db.withSavepoint('award_chunk', () => this.write(award.id, credits));
    } catch (error) {
      if (!isRefusal(error)) throw error;
      // one row the door refuses (a debt repaid meanwhile, say) must not hold back the others:
      // the chunk again, row by row, each refusal recorded in the error file
      credited = [];
      for (const credit of credits) {
        try {
          await this.db.withSavepoint('award_row', () => this.write(award.id, [credit]));
          credited.push(credit);
        } catch (rowError) {
          if (!isRefusal(rowError)) throw rowError;
          failed.push({ line: credit.row.line, reason: `${rowError.code}: ${rowError.detail}`.slice(0, 500) });
        }
      }
      await this.repository.markFailed(award.id, failed);
    }
    const points = credited.reduce((sum, c) => sum.plus(c.row.points), new Decimal(0));
    // last, so that the award's row (which every chunk updates) is held only until the commit
    await this.repository.addProgress(award.id, credited.length, failed.length, points, this.config.awards.leaseSeconds);
    return { settled: rows.length, last: rows[rows.length - 1].line };
  }

  /** The rows' new status first (it names their transactions), the ledger statement last, as an earn batch does. */
  private async write(awardId: string, credits: { row: PendingRow; transaction: NewTransaction & { id: string } }[]): Promise<void> {
    await this.repository.markCredited(
      awardId,
      credits.map((c) => ({ line: c.row.line, transactionId: c.transaction.id })),
    );
    await this.ledger.recordMany(credits.map((c) => c.transaction));
  }

  private creditOf(award: AwardRecord, row: PendingRow, debts: Map<string, Decimal>): NewTransaction & { id: string } {
    return {
      id: awardTransactionId(award.id, row.line),
      type: AWARD_TYPE,
      // a resident's debt is paid first, as by any accrual
      postings: accrual(row.residentId, row.points, payDebtFirst(debts, row.residentId, row.points)),
      description: award.description,
      metadata: { awardId: award.id, line: row.line, ...(row.reference ? { reference: row.reference } : {}) },
      creditExpiresAt: award.expiresAt ?? undefined,
    };
  }

  private async debtsOf(residentIds: string[]): Promise<Map<string, Decimal>> {
    const debts = await this.reads.residentDebts(residentIds);
    return new Map([...debts].filter(([, debt]) => debt.gt(0)));
  }
}

/** The ledger refused a write for what it is (not for the moment: a 503 is tried again, not recorded as the row's failure). */
function isRefusal(error: unknown): error is DomainError {
  return error instanceof DomainError && error.code !== 'service_unavailable';
}
