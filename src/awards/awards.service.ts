import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError, invalidInput, notFound } from '../common/errors';
import { Decimal } from '../common/money';
import { decodeCursor, encodeCursor, Page } from '../common/pagination';
import { APP_CONFIG, AppConfig } from '../config/config';
import { TransactionHost } from '../infra/database/transaction-host';
import { AwardQueue } from './award-queue';
import { AwardRecord, AwardsRepository } from './awards.repository';
import { AwardRowInput, CheckedRow, executeRefusal, MAX_DESCRIPTION_LENGTH, Refusal, UploadDigest } from './domain/award';

/**
 * Rows stored per statement while an upload streams in. A chunk's rows live from their line to
 * their statement's end: at 5,000 they outlived two of the young generation's collections and
 * were promoted, garbage that only a full collection takes back (a million-row upload left the
 * process 400-450 MB larger, against 280-290 MB at 1,000; docs/performance.md, tenth session).
 */
const UPLOAD_CHUNK = 1000;
/** An upload of this many valid rows or more analyses award_rows when it ends (its chunks' plans go by the statistics). */
const ANALYZE_AFTER_ROWS = 10_000;
/** Error-file lines read per query while it streams out. */
const ERRORS_PAGE = 5000;

/** One line of an upload, as it came (its fields, for the duplicate check's hash) and as checked. */
export interface UploadLine {
  line: number;
  fields: readonly unknown[];
  checked: CheckedRow;
}

export interface NewAward {
  description: string;
  expiresAt?: Date;
  budget?: Decimal;
  actor: string;
}

/**
 * Bulk awards: an upload validated and stored in chunks as it streams in (nothing credited),
 * then, on execute, credited exactly once per row by the executor (src/awards/award-executor).
 */
@Injectable()
export class AwardsService {
  private readonly logger = new Logger('Awards');

  constructor(
    private readonly db: TransactionHost,
    private readonly repository: AwardsRepository,
    private readonly queue: AwardQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Stores an award from its lines (a streamed CSV or JSON rows): each valid row once per
   * (resident, reference), every other line with its reason in the error file. An upload that
   * fails as a whole (too large, unreadable) leaves nothing behind. The answer names an earlier
   * award of the same rows and description, if there is one (`duplicateOf`): the upload is kept
   * (a repeated prize day is legitimate), and executing it is the admin's decision.
   */
  async create(input: NewAward, lines: AsyncIterable<UploadLine> | Iterable<UploadLine>): Promise<AwardRecord> {
    const description = input.description?.trim() ?? '';
    if (description.length < 1 || description.length > MAX_DESCRIPTION_LENGTH) {
      throw invalidInput(`description must be 1 to ${MAX_DESCRIPTION_LENGTH} characters`);
    }
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw invalidInput('expiresAt must be in the future');
    if (input.budget && (!input.budget.isInteger() || input.budget.lte(0))) throw invalidInput('budget must be a whole number above 0');

    const id = randomUUID();
    await this.repository.create({
      id,
      description,
      expiresAt: input.expiresAt ?? null,
      budget: input.budget ?? null,
      createdBy: input.actor,
    });
    try {
      return await this.store(id, lines);
    } catch (error) {
      await this.repository
        .delete(id)
        .catch((e: Error) => this.logger.error(`award ${id}: its refused upload was not removed: ${e.message}`));
      throw error;
    }
  }

  private async store(id: string, lines: AsyncIterable<UploadLine> | Iterable<UploadLine>): Promise<AwardRecord> {
    const digest = new UploadDigest();
    let rows = 0;
    let valid = 0;
    let total = new Decimal(0);
    let pending: (AwardRowInput & { line: number })[] = [];
    let refused: Refusal[] = [];
    const flush = async () => {
      const stored = await this.repository.insertRows(id, pending);
      for (const row of pending) {
        if (stored.has(row.line)) {
          valid++;
          total = total.plus(row.points);
        } else {
          refused.push({
            line: row.line,
            residentId: row.residentId,
            points: row.points.toFixed(),
            reference: row.reference || null,
            reason: 'duplicate_row',
            detail: `resident ${row.residentId} already has a row${row.reference ? ` with reference ${row.reference}` : ' without a reference'} in this award`,
          });
        }
      }
      await this.repository.insertRefusals(id, refused);
      await this.repository.touch(id);
      pending = [];
      refused = [];
    };
    for await (const { line, fields, checked } of lines) {
      rows++;
      // a valid row as read (quoting, spacing and a header aside), a refused line as it was sent
      digest.add(checked.ok ? [checked.row.residentId, checked.row.points.toFixed(), checked.row.reference] : fields);
      if (checked.ok) pending.push({ ...checked.row, line });
      else refused.push({ line, ...checked.refusal });
      if (pending.length + refused.length >= UPLOAD_CHUNK) await flush();
    }
    await flush();
    if (valid >= ANALYZE_AFTER_ROWS) {
      await this.repository
        .analyzeRows()
        .catch((e: Error) => this.logger.warn(`award ${id}: award_rows not analysed after its upload: ${e.message}`));
    }
    if (rows === 0) throw invalidInput('the upload has no rows: send residentId,points[,reference] lines, or JSON {"rows": [...]}');
    return this.repository.finishUpload(id, { rows, valid, invalid: rows - valid, totalPoints: total, contentHash: digest.digest() });
  }

  /**
   * Starts crediting a ready award (or nudges a running one on: an execution that stopped goes
   * on from its last chunk). Refused while it validates, once it is done, or over its budget.
   */
  async execute(id: string): Promise<AwardRecord> {
    const award = await this.db.run(async () => {
      const found = await this.repository.find(id, true);
      if (!found) throw notFound(`award ${id}`);
      const refusal = executeRefusal(found, new Date());
      if (refusal) throw new DomainError(refusal.code, refusal.detail, { awardId: id, status: found.status });
      if (found.status === 'ready') await this.repository.start(id, this.config.awards.leaseSeconds);
      return (await this.repository.find(id))!;
    });
    // committed: the job (or the sweeper, if the hand-off is lost) takes it from here
    await this.queue.enqueue(id).catch((error: Error) => this.logger.warn(`award ${id} left for the sweeper: ${error.message}`));
    return award;
  }

  async get(id: string): Promise<AwardRecord> {
    const award = await this.repository.find(id);
    if (!award) throw notFound(`award ${id}`);
    return award;
  }

  async list(limit: number, cursor?: string): Promise<Page<AwardRecord>> {
    const after = decodeCursor<{ t: string; id: string }>(cursor, ['t', 'id']);
    if (after && (Number.isNaN(Date.parse(after.t)) || !/^[0-9a-f-]{36}$/.test(after.id))) {
      throw invalidInput('cursor is not one this service issued');
    }
    const rows = await this.repository.list(limit + 1, after && { createdAt: new Date(after.t), id: after.id });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeCursor({ t: last.createdAt.toISOString(), id: last.id }) : null,
    };
  }

  /** The error file's lines in line order, a page at a time (never the whole file in memory). */
  async *errors(id: string): AsyncIterable<Refusal> {
    await this.get(id);
    let after = 0;
    for (;;) {
      const page = await this.repository.errors(id, after, ERRORS_PAGE);
      yield* page;
      if (page.length < ERRORS_PAGE) return;
      after = page[page.length - 1].line;
    }
  }
}
