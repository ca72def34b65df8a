import { parse } from 'csv-parse';
import type { Request } from 'express';
import type { Readable } from 'node:stream';
import { DomainError, invalidInput } from '../common/errors';
import type { UploadLine } from './awards.service';
import { checkCsvRecord, checkRow, isHeader } from './domain/award';

/** JSON uploads are small by nature (BODY_LIMIT); a prize day's million rows come as text/csv. */
export const MAX_JSON_ROWS = 100_000;
/** A CSV record longer than this is a broken line (an unclosed quote swallowing the file), not a row. */
const MAX_RECORD_BYTES = 4096;

export function bytesOf(size: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(size)!;
  return Number(m[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[m[2].toLowerCase() as 'b' | 'kb' | 'mb'];
}

/**
 * The lines of an award upload: JSON `{rows: [{residentId, points, reference?}]}` (already
 * parsed by the JSON body parser, within BODY_LIMIT), or text/csv streamed from the request,
 * never held whole in memory, refused with 413 past `csvLimit`.
 */
export function uploadLinesOf(req: Request, csvLimit: string): AsyncIterable<UploadLine> | Iterable<UploadLine> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return jsonLines(req.body);
  if (type === 'text/csv' || type === 'text/plain') return csvLines(req, { bytes: bytesOf(csvLimit), text: csvLimit });
  throw new DomainError(
    'unsupported_media_type',
    'send text/csv (residentId,points[,reference] a line) or application/json {"rows": [...]}',
  );
}

function jsonLines(body: unknown): UploadLine[] {
  const rows = (body as { rows?: unknown } | undefined)?.rows;
  const extra = Object.keys((body as object) ?? {}).filter((k) => k !== 'rows');
  if (extra.length) throw invalidInput(`property ${extra[0]} should not exist`);
  if (!Array.isArray(rows) || rows.length === 0 || rows.length > MAX_JSON_ROWS) {
    throw invalidInput(`rows must be a list of 1 to ${MAX_JSON_ROWS} rows (larger awards: upload text/csv)`);
  }
  return rows.map((row: unknown, i): UploadLine => {
    const line = i + 1;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      return {
        line,
        fields: [JSON.stringify(row)],
        checked: {
          ok: false,
          refusal: {
            residentId: null,
            points: null,
            reference: null,
            reason: 'malformed_line',
            detail: 'a row is an object {residentId, points, reference?}',
          },
        },
      };
    }
    const { residentId, points, reference, ...rest } = row as Record<string, unknown>;
    const unknown = Object.keys(rest);
    const fields = [residentId, points, reference];
    if (unknown.length) {
      return {
        line,
        fields,
        checked: {
          ok: false,
          refusal: {
            residentId: typeof residentId === 'string' ? residentId.slice(0, 200) : null,
            points: typeof points === 'string' ? points.slice(0, 200) : null,
            reference: typeof reference === 'string' ? reference.slice(0, 200) : null,
            reason: 'malformed_line',
            detail: `property ${unknown[0]} should not exist`,
          },
        },
      };
    }
    return { line, fields, checked: checkRow(residentId, points, reference) };
  });
}

/**
 * CSV lines `residentId,points[,reference]` from a stream (an upload, a file), with their line
 * numbers; a header line is skipped; a line that cannot be a row (a stray quote, too long) is a
 * refused line of its own, not the end of the upload.
 */
export function csvLines(input: Readable, limit?: { bytes: number; text: string }): AsyncIterable<UploadLine> {
  // the parser is attached now, not when the lines are first read: a stream already flowing
  // (a file whose bytes are counted for a progress bar) loses nothing while the award is created
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // no quoting at the parser: each line is one row (checkCsvRecord unquotes a field)
    quote: false,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    info: true,
  });
  const broken: UploadLine[] = [];
  parser.on('skip', (error: Error & { lines?: number }) => {
    broken.push({
      line: error.lines ?? 0,
      fields: [error.message],
      checked: {
        ok: false,
        refusal: { residentId: null, points: null, reference: null, reason: 'malformed_line', detail: `not a CSV line: ${error.message}` },
      },
    });
  });
  input.on('error', (error) => parser.destroy(error));
  if (limit) {
    let received = 0;
    input.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit.bytes && !parser.destroyed) {
        // the rest of the body is read and dropped, so that the client gets its answer
        input.unpipe(parser);
        parser.destroy(new DomainError('payload_too_large', `an award upload is at most ${limit.text}`));
      }
    });
  }
  input.pipe(parser);
  return numbered(parser as AsyncIterable<{ record: string[]; info: { lines: number } }>, broken);
}

async function* numbered(
  records: AsyncIterable<{ record: string[]; info: { lines: number } }>,
  broken: UploadLine[],
): AsyncIterable<UploadLine> {
  // line numbers only ever grow, also for a broken line the parser reports where the next one ends
  let last = 0;
  const next = (l: UploadLine): UploadLine => ({ ...l, line: (last = Math.max(l.line, last + 1)) });
  let first = true;
  for await (const { record, info } of records) {
    yield* broken.splice(0).map(next);
    if (first) {
      first = false;
      if (isHeader(record)) continue;
    }
    yield next({ line: info.lines, fields: record, checked: checkCsvRecord(record) });
  }
  yield* broken.splice(0).map(next);
}
