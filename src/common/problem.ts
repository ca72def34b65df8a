import { ERROR_CATALOGUE, ErrorCode } from './errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  [extension: string]: unknown;
}

const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'code', 'instance']);

export function problemType(code: ErrorCode): string {
  return `urn:civic-points-ledger:problem:${code}`;
}

export function problemOf(code: ErrorCode, detail: string, instance?: string, extensions: Record<string, unknown> = {}): ProblemDocument {
  const { status, title } = ERROR_CATALOGUE[code];
  const extra = Object.entries(extensions).filter(([name]) => !STANDARD_MEMBERS.has(name));
  return { type: problemType(code), title, status, detail, code, instance, ...Object.fromEntries(extra) };
}

/** Writes a problem document on a raw Node/Express response (for middleware outside Nest's filters). */
export function writeProblem(
  res: { status(code: number): unknown; setHeader(name: string, value: string): unknown; end(body: string): unknown },
  problem: ProblemDocument,
  text: string = JSON.stringify(problem),
): void {
  res.status(problem.status);
  res.setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  res.end(text);
}

/**
 * A problem document decided earlier (e.g. a replayed idempotent answer), sent as it is: `text`,
 * when given, is its exact JSON text (a stored answer is sent byte for byte).
 */
export class ProblemAnswer extends Error {
  constructor(
    readonly problem: ProblemDocument,
    readonly text?: string,
  ) {
    super(problem.detail);
    this.name = 'ProblemAnswer';
  }
}
