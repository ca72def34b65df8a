import { Injectable } from '@nestjs/common';
import { Decimal } from '../common/money';
import { arrayLiteral } from '../infra/database/array-literal';
import { TransactionHost } from '../infra/database/transaction-host';
import { AwardRowInput, AwardStatus, Refusal } from './domain/award';

export interface AwardRecord {
  id: string;
  description: string;
  status: AwardStatus;
  expiresAt: Date | null;
  budget: Decimal | null;
  rows: number;
  valid: number;
  invalid: number;
  totalPoints: Decimal;
  credited: number;
  failed: number;
  creditedPoints: Decimal;
  duplicateOf: string | null;
  createdBy: string;
  leasedUntil: Date | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

export interface PendingRow {
  line: number;
  residentId: string;
  reference: string;
  points: Decimal;
}

interface RawAward {
  id: string;
  description: string;
  status: string;
  expires_at: Date | null;
  budget: string | null;
  row_count: number;
  valid: number;
  invalid: number;
  total_points: string;
  credited: number;
  failed: number;
  credited_points: string;
  duplicate_of: string | null;
  created_by: string;
  leased_until: Date | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

interface RawChunk {
  settled: number;
  last_line: number;
  fallback: boolean;
}

const CREDIT_CHUNK_SQL = `SELECT settled, last_line, fallback FROM award_credit_chunk($1::uuid, $2::int, $3::int, $4::int)`;

const COLUMNS = `id, description, status, expires_at, budget::text AS budget, row_count, valid, invalid, total_points::text AS total_points,
  credited, failed, credited_points::text AS credited_points, duplicate_of, created_by, leased_until, error, created_at, updated_at,
  started_at, completed_at`;

/** The awards' tables: awards, their valid rows and the lines refused at upload. */
@Injectable()
export class AwardsRepository {
  constructor(private readonly db: TransactionHost) {}

  async create(a: { id: string; description: string; expiresAt: Date | null; budget: Decimal | null; createdBy: string }): Promise<void> {
    await this.db.client.$executeRaw`
      INSERT INTO awards (id, description, status, expires_at, budget, created_by)
      VALUES (${a.id}::uuid, ${a.description}, 'validating', ${a.expiresAt}, ${a.budget?.toFixed() ?? null}::numeric, ${a.createdBy})`;
  }

  async find(id: string, lock = false): Promise<AwardRecord | null> {
    const rows = await this.db.client.$queryRawUnsafe<RawAward[]>(
      `SELECT ${COLUMNS} FROM awards WHERE id = $1::uuid${lock ? ' FOR UPDATE' : ''}`,
      id,
    );
    return rows[0] ? toAward(rows[0]) : null;
  }

  /** Newest first; `after`: the (createdAt, id) of the last award of the previous page. */
  async list(limit: number, after?: { createdAt: Date; id: string }): Promise<AwardRecord[]> {
    const rows = after
      ? await this.db.client.$queryRawUnsafe<RawAward[]>(
          `SELECT ${COLUMNS} FROM awards WHERE (date_trunc('milliseconds', created_at), id) < ($1::timestamptz, $2::uuid)
           ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC LIMIT $3`,
          after.createdAt,
          after.id,
          limit,
        )
      : await this.db.client.$queryRawUnsafe<RawAward[]>(
          `SELECT ${COLUMNS} FROM awards ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC LIMIT $1`,
          limit,
        );
    return rows.map(toAward);
  }

  /**
   * Stores valid rows (one multi-row insert): a row whose (resident, reference) the award
   * already has, from this chunk or an earlier one, is not stored. Returns the lines stored.
   */
  async insertRows(awardId: string, rows: (AwardRowInput & { line: number })[]): Promise<Set<number>> {
    if (rows.length === 0) return new Set();
    const stored = await this.db.client.$queryRaw<{ line: number }[]>`
      INSERT INTO award_rows (award_id, line, resident_id, reference, points)
      SELECT ${awardId}::uuid, r.line, r.resident_id, r.reference, r.points
      FROM unnest(${arrayLiteral(rows.map((r) => r.line))}::int[], ${arrayLiteral(rows.map((r) => r.residentId))}::text[],
                  ${arrayLiteral(rows.map((r) => r.reference))}::text[], ${arrayLiteral(rows.map((r) => r.points.toFixed()))}::numeric[])
        AS r(line, resident_id, reference, points)
      ORDER BY r.line
      ON CONFLICT (award_id, resident_id, reference) DO NOTHING
      RETURNING line`;
    return new Set(stored.map((s) => s.line));
  }

  async insertRefusals(awardId: string, refusals: Refusal[]): Promise<void> {
    if (refusals.length === 0) return;
    await this.db.client.$executeRaw`
      INSERT INTO award_refusals (award_id, line, resident_id, points, reference, reason, detail)
      SELECT ${awardId}::uuid, r.* FROM unnest(
        ${arrayLiteral(refusals.map((r) => r.line))}::int[], ${arrayLiteral(refusals.map((r) => r.residentId))}::text[],
        ${arrayLiteral(refusals.map((r) => r.points))}::text[], ${arrayLiteral(refusals.map((r) => r.reference))}::text[],
        ${arrayLiteral(refusals.map((r) => r.reason))}::text[], ${arrayLiteral(refusals.map((r) => r.detail))}::text[])
        AS r(line, resident_id, points, reference, reason, detail)`;
  }

  /** The upload is stored: its counts, and the earlier award of the same content and description (if any). */
  async finishUpload(
    id: string,
    c: { rows: number; valid: number; invalid: number; totalPoints: Decimal; contentHash: string },
  ): Promise<AwardRecord> {
    const [row] = await this.db.client.$queryRawUnsafe<RawAward[]>(
      `UPDATE awards a SET status = 'ready', row_count = $2, valid = $3, invalid = $4, total_points = $5::numeric, content_hash = $6,
         duplicate_of = (SELECT e.id FROM awards e WHERE e.content_hash = $6 AND e.description = a.description AND e.id <> a.id
                           AND e.status <> 'failed' ORDER BY e.created_at LIMIT 1),
         updated_at = now()
       WHERE id = $1::uuid RETURNING ${COLUMNS}`,
      id,
      c.rows,
      c.valid,
      c.invalid,
      c.totalPoints.toFixed(),
      c.contentHash,
    );
    return toAward(row);
  }

  /**
   * Fresh statistics for award_rows after a large upload (what autovacuum would do, later, and not
   * at all where it is off): the chunks' and the completion's plans go by them.
   */
  async analyzeRows(): Promise<void> {
    await this.db.client.$executeRawUnsafe('ANALYZE award_rows');
  }

  /** Keeps an upload in progress from looking abandoned. */
  async touch(id: string): Promise<void> {
    await this.db.client.$executeRaw`UPDATE awards SET updated_at = now() WHERE id = ${id}::uuid AND status = 'validating'`;
  }

  /** An upload refused as a whole leaves nothing behind (its rows and refusals go with it). */
  async delete(id: string): Promise<void> {
    await this.db.client.$executeRaw`DELETE FROM awards WHERE id = ${id}::uuid AND status = 'validating'`;
  }

  async start(id: string, leaseSeconds: number): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE awards SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now(),
        leased_until = now() + make_interval(secs => ${leaseSeconds}::int)
      WHERE id = ${id}::uuid`;
  }

  /** Takes the award for this process unless another holds a live lease; false when it does (or it is not running). */
  async takeLease(id: string, leaseSeconds: number, force: boolean): Promise<boolean> {
    const taken = await this.db.client.$executeRaw`
      UPDATE awards SET leased_until = now() + make_interval(secs => ${leaseSeconds}::int)
      WHERE id = ${id}::uuid AND status = 'running' AND (${force}::boolean OR leased_until IS NULL OR leased_until < now())`;
    return taken > 0;
  }

  async releaseLease(id: string): Promise<void> {
    await this.db.client.$executeRaw`UPDATE awards SET leased_until = NULL WHERE id = ${id}::uuid AND status = 'running'`;
  }

  /**
   * Credits a chunk in one statement, its own transaction (award_credit_chunk: the rows locked,
   * the residents' accounts opened, the rows marked credited, their credits written by the
   * ledger's door, the progress added and the lease renewed). `fallback`: the chunk needs the
   * service's accrual rule (a resident in debt, say) and nothing was credited. Throws what the
   * door raises when it refuses the chunk.
   */
  async creditChunk(
    awardId: string,
    limit: number,
    after: number,
    leaseSeconds: number,
  ): Promise<{ settled: number; last: number; fallback: boolean }> {
    const params = [awardId, after, limit, leaseSeconds];
    const [row] = await this.db.write<RawChunk>('award_credit_chunk', CREDIT_CHUNK_SQL, params);
    return { settled: Number(row.settled), last: Number(row.last_line), fallback: row.fallback };
  }

  /**
   * Waits for, then holds until the commit, the lock that chunks paying residents' debts take one
   * at a time (award_credit_chunk credits only chunks without a debt, and never takes it).
   */
  async lockDebtPayments(): Promise<void> {
    await this.db.client.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('award_debt_payments', 0))`;
  }

  /** Up to `limit` rows still to credit after line `after`, in line order, locked; rows another chunk holds are skipped. */
  async lockPending(awardId: string, limit: number, after = 0): Promise<PendingRow[]> {
    const rows = await this.db.client.$queryRaw<{ line: number; resident_id: string; reference: string; points: string }[]>`
      SELECT line, resident_id, reference, points::text FROM award_rows
      WHERE award_id = ${awardId}::uuid AND status = 'pending' AND line > ${after}::int
      ORDER BY line LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
    return rows.map((r) => ({ line: r.line, residentId: r.resident_id, reference: r.reference, points: new Decimal(r.points) }));
  }

  async markCredited(awardId: string, rows: { line: number; transactionId: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.client.$executeRaw`
      UPDATE award_rows r SET status = 'credited', transaction_id = u.transaction_id
      FROM unnest(${arrayLiteral(rows.map((r) => r.line))}::int[], ${arrayLiteral(rows.map((r) => r.transactionId))}::uuid[])
        AS u(line, transaction_id)
      WHERE r.award_id = ${awardId}::uuid AND r.line = u.line AND r.status = 'pending'`;
  }

  async markFailed(awardId: string, rows: { line: number; reason: string }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.client.$executeRaw`
      UPDATE award_rows r SET status = 'failed', reason = u.reason
      FROM unnest(${arrayLiteral(rows.map((r) => r.line))}::int[], ${arrayLiteral(rows.map((r) => r.reason))}::text[]) AS u(line, reason)
      WHERE r.award_id = ${awardId}::uuid AND r.line = u.line AND r.status = 'pending'`;
  }

  /** Adds a chunk's outcome to the award's progress and renews this process's lease. */
  async addProgress(awardId: string, credited: number, failed: number, points: Decimal, leaseSeconds: number): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE awards SET credited = credited + ${credited}, failed = failed + ${failed},
        credited_points = credited_points + ${points.toFixed()}::numeric, updated_at = now(),
        leased_until = now() + make_interval(secs => ${leaseSeconds}::int)
      WHERE id = ${awardId}::uuid`;
  }

  /** Marks a running award done once no row is left to credit; true when this call did. */
  async complete(awardId: string): Promise<boolean> {
    const done = await this.db.client.$executeRaw`
      UPDATE awards SET status = 'done', completed_at = now(), updated_at = now(), leased_until = NULL
      WHERE id = ${awardId}::uuid AND status = 'running'
        AND NOT EXISTS (SELECT 1 FROM award_rows r WHERE r.award_id = ${awardId}::uuid AND r.status = 'pending')`;
    return done > 0;
  }

  /** Running awards that no process holds (its lease ran out: it died or stopped). */
  async unheld(limit: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      SELECT id FROM awards WHERE status = 'running' AND (leased_until IS NULL OR leased_until < now())
      ORDER BY started_at LIMIT ${limit}`;
    return rows.map((r) => r.id);
  }

  /** Uploads that stopped without finishing (their process died): nothing was credited; they fail. */
  async failAbandonedUploads(olderThanSeconds: number): Promise<number> {
    return this.db.client.$executeRaw`
      UPDATE awards SET status = 'failed', error = 'the upload did not finish (its process stopped): upload the file again',
        updated_at = now()
      WHERE status = 'validating' AND updated_at < now() - make_interval(secs => ${olderThanSeconds}::int)`;
  }

  /**
   * The award's error file, in line order from `afterLine`: lines refused at upload and rows
   * whose credit was refused at execute.
   */
  async errors(awardId: string, afterLine: number, limit: number): Promise<Refusal[]> {
    const rows = await this.db.client.$queryRaw<
      { line: number; resident_id: string | null; points: string | null; reference: string | null; reason: string; detail: string }[]
    >`
      SELECT * FROM (
        SELECT line, resident_id, points, reference, reason, detail FROM award_refusals WHERE award_id = ${awardId}::uuid AND line > ${afterLine}
        UNION ALL
        SELECT line, resident_id, points::text, nullif(reference, ''), 'credit_refused', coalesce(reason, '') FROM award_rows
        WHERE award_id = ${awardId}::uuid AND status = 'failed' AND line > ${afterLine}
      ) e ORDER BY line LIMIT ${limit}`;
    return rows.map((r) => ({
      line: r.line,
      residentId: r.resident_id,
      points: r.points,
      reference: r.reference,
      reason: r.reason as Refusal['reason'],
      detail: r.detail,
    }));
  }
}

function toAward(r: RawAward): AwardRecord {
  return {
    id: r.id,
    description: r.description,
    status: r.status as AwardStatus,
    expiresAt: r.expires_at,
    budget: r.budget === null ? null : new Decimal(r.budget),
    rows: r.row_count,
    valid: r.valid,
    invalid: r.invalid,
    totalPoints: new Decimal(r.total_points),
    credited: r.credited,
    failed: r.failed,
    creditedPoints: new Decimal(r.credited_points),
    duplicateOf: r.duplicate_of,
    createdBy: r.created_by,
    leasedUntil: r.leased_until,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    completedAt: r.completed_at,
  };
}
