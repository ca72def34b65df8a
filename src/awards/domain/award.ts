import { createHash } from 'node:crypto';
import { RESIDENT_ID, RESIDENT_ID_HINT } from '../../common/identifiers';
import { Decimal } from '../../common/money';

/**
 * Bulk awards: one upload of rows (resident, points, reference), validated and stored first,
 * credited later (execute), each row exactly once. Plain TypeScript: what a row must be, what
 * an award's states allow, and the key that makes a row's credit unique.
 */
export type AwardStatus = 'validating' | 'ready' | 'running' | 'done' | 'failed';
export const AWARD_STATUSES: readonly AwardStatus[] = ['validating', 'ready', 'running', 'done', 'failed'];

/** Most points one row may give (far above any prize; far below what an amount may hold). */
export const MAX_ROW_POINTS = new Decimal(1_000_000_000);
export const MAX_REFERENCE_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 200;
/** A refused line keeps at most this much of each field it was sent with (the error file is not a copy of a garbage upload). */
const KEPT = 200;

/** Why a line was refused: stable codes in the error file's `reason` column (its `detail` says more). */
export type RefusalReason =
  'malformed_line' | 'invalid_resident_id' | 'invalid_points' | 'invalid_reference' | 'duplicate_row' | 'credit_refused';

export interface AwardRowInput {
  residentId: string;
  points: Decimal;
  /** '' when the line gave none: a resident appears once per reference */
  reference: string;
}

export interface Refusal {
  line: number;
  residentId: string | null;
  points: string | null;
  reference: string | null;
  reason: RefusalReason;
  detail: string;
}

export type CheckedRow = { ok: true; row: AwardRowInput } | { ok: false; refusal: Omit<Refusal, 'line'> };

const WHOLE = /^\d{1,19}$/;
const CONTROL = /\p{Cc}/u;

function kept(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > KEPT ? `${text.slice(0, KEPT)}…` : text;
}

/**
 * One line of an upload, as the fields it was sent with (a CSV line's columns, a JSON row's
 * members): a valid row, or the reason it is refused. Points are whole and positive, written
 * as digits (a decimal string, as everywhere in the API); the reference is optional.
 */
export function checkRow(residentId: unknown, points: unknown, reference: unknown): CheckedRow {
  const refuse = (reason: RefusalReason, detail: string): CheckedRow => ({
    ok: false,
    refusal: { residentId: kept(residentId), points: kept(points), reference: kept(reference), reason, detail },
  });
  if (typeof residentId !== 'string' || !RESIDENT_ID.test(residentId)) {
    return refuse('invalid_resident_id', `residentId must be ${RESIDENT_ID_HINT}`);
  }
  if (typeof points !== 'string' || !WHOLE.test(points.trim()) || /^0+$/.test(points.trim())) {
    const shown = typeof points === 'string' ? `"${kept(points)}"` : typeof points;
    return refuse('invalid_points', `points must be a whole number above 0, written as digits (got ${shown})`);
  }
  const amount = new Decimal(points.trim());
  if (amount.gt(MAX_ROW_POINTS)) return refuse('invalid_points', `points must be at most ${MAX_ROW_POINTS.toFixed()}`);
  const ref = reference === undefined || reference === null ? '' : reference;
  if (typeof ref !== 'string' || ref.length > MAX_REFERENCE_LENGTH || CONTROL.test(ref)) {
    return refuse('invalid_reference', `reference must be text of at most ${MAX_REFERENCE_LENGTH} characters without control characters`);
  }
  return { ok: true, row: { residentId, points: amount, reference: ref.trim() } };
}

/**
 * A CSV line: `residentId,points[,reference]`, split on commas as it is (a line is a row: a
 * quote can never swallow the lines after it); a field in double quotes is unquoted (`""` is
 * a quote), a stray quote makes the line malformed.
 */
export function checkCsvRecord(raw: string[]): CheckedRow {
  const fields = raw.map(unquoted);
  const stray = fields.findIndex((f) => f === null);
  if (stray >= 0) {
    return {
      ok: false,
      refusal: {
        residentId: kept(raw[0]),
        points: kept(raw[1]),
        reference: kept(raw.slice(2).join(',')),
        reason: 'malformed_line',
        detail: `column ${stray + 1} has a stray double quote (a quoted value is "…" with "" for a quote, and no comma in it)`,
      },
    };
  }
  return checkFields(fields as string[]);
}

function unquoted(field: string): string | null {
  if (!field.includes('"')) return field;
  if (field.length >= 2 && field.startsWith('"') && field.endsWith('"')) {
    const inner = field.slice(1, -1);
    return /^(?:[^"]|"")*$/.test(inner) ? inner.replace(/""/g, '"').trim() : null;
  }
  return null;
}

function checkFields(fields: string[]): CheckedRow {
  if (fields.length < 2 || fields.length > 3) {
    return {
      ok: false,
      refusal: {
        residentId: kept(fields[0]),
        points: kept(fields[1]),
        reference: kept(fields.slice(2).join(',')),
        reason: 'malformed_line',
        detail: `a line is residentId,points[,reference]: this one has ${fields.length} column${fields.length === 1 ? '' : 's'}`,
      },
    };
  }
  return checkRow(fields[0], fields[1], fields[2]);
}

/** Whether a CSV's first line is a header (`residentId,points,reference`, in any case or with `_`). */
export function isHeader(fields: string[]): boolean {
  return /^resident_?id$/i.test(fields[0] ?? '') && /^points$/i.test((fields[1] ?? '').trim());
}

/**
 * The id of the ledger transaction that credits a row: derived from the row (its award and its
 * line, unique in the award as its key (resident, reference) is), so that a second credit of the
 * same row could not be written even if everything else failed: it would collide on the journal's
 * id registry. An RFC 9562 UUID of version 8 (custom): 12 bytes of SHA-256 of the award's id, then
 * the line, so that an award's credits are named in line order and a chunk's ids are neighbours in
 * every index keyed by a transaction id (random ids spread each chunk over the whole of those
 * indexes: docs/performance.md, "bulk awards at a million rows"). award_transaction_id in SQL
 * makes the same id.
 */
export function awardTransactionId(awardId: string, line: number): string {
  if (!Number.isInteger(line) || line < 1 || line > 0x7fffffff) throw new RangeError(`an award row's line is a positive int, not ${line}`);
  const id = Buffer.alloc(16);
  createHash('sha256').update(`award\u0000${awardId}`).digest().copy(id, 0, 0, 12);
  id[6] = (id[6] & 0x0f) | 0x80;
  id[8] = (id[8] & 0x3f) | 0x80;
  id.writeUInt32BE(line, 12);
  const hex = id.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** What refuses an execute: the award's state, its budget, its expiry; null when it may run. */
export function executeRefusal(
  award: { status: AwardStatus; totalPoints: Decimal; budget: Decimal | null; expiresAt: Date | null },
  now: Date,
): { code: 'invalid_state' | 'limit_exceeded'; detail: string } | null {
  if (award.status === 'validating') return { code: 'invalid_state', detail: 'the award is still validating its upload' };
  if (award.status === 'done') return { code: 'invalid_state', detail: 'the award is done: every valid row was credited once' };
  if (award.status === 'failed') return { code: 'invalid_state', detail: 'the award failed (its upload did not finish): upload it again' };
  if (award.budget && award.totalPoints.gt(award.budget)) {
    return {
      code: 'limit_exceeded',
      detail: `the award's total ${award.totalPoints.toFixed()} points exceeds its budget of ${award.budget.toFixed()}`,
    };
  }
  if (award.status === 'ready' && award.expiresAt && award.expiresAt.getTime() <= now.getTime()) {
    return { code: 'invalid_state', detail: `the award's points would expire at ${award.expiresAt.toISOString()}, which has passed` };
  }
  return null;
}

/** A running hash of an upload's lines as sent: equal for the same file (or the same JSON rows). */
export class UploadDigest {
  private readonly hash = createHash('sha256');

  add(fields: readonly unknown[]): void {
    this.hash.update(
      fields.map((f) => (typeof f === 'string' ? f.trim() : f === undefined || f === null ? '' : JSON.stringify(f))).join('\u0001'),
    );
    this.hash.update('\u0002');
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
