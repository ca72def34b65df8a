import { parse } from 'csv-parse';
import type { Request } from 'express';
import { DomainError, invalidInput } from '../common/errors';

const MAX_JSON_CODES = 100_000;

function bytesOf(size: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(size)!;
  return Number(m[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[m[2].toLowerCase() as 'b' | 'kb' | 'mb'];
}

/**
 * The codes of an upload, one by one: from a JSON body `{codes: [...]}`, or streamed from a
 * text/csv body (one code a line, the first column), never holding a large file in memory.
 */
export function codesOf(req: Request, csvLimit: string): AsyncIterable<string> | Iterable<string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    const codes = (req.body as { codes?: unknown } | undefined)?.codes;
    const extra = Object.keys((req.body as object) ?? {}).filter((k) => k !== 'codes');
    if (extra.length) throw invalidInput(`property ${extra[0]} should not exist`);
    if (!Array.isArray(codes) || codes.length === 0 || codes.length > MAX_JSON_CODES || codes.some((c) => typeof c !== 'string')) {
      throw invalidInput(`codes must be a list of 1 to ${MAX_JSON_CODES} strings (larger pools: upload text/csv)`);
    }
    return codes as string[];
  }
  if (type === 'text/csv' || type === 'text/plain') return streamCsv(req, bytesOf(csvLimit), csvLimit);
  throw new DomainError('unsupported_media_type', 'send application/json {"codes": [...]} or text/csv with one code a line');
}

async function* streamCsv(req: Request, limit: number, limitText: string): AsyncIterable<string> {
  let received = 0;
  const parser = parse({ relax_column_count: true, skip_empty_lines: true, trim: true, bom: true });
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) {
      req.unpipe(parser);
      parser.destroy(new DomainError('payload_too_large', `a code upload is at most ${limitText}`));
    }
  });
  req.pipe(parser);
  for await (const record of parser as AsyncIterable<string[]>) yield record[0] ?? '';
}
