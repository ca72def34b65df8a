import { randomUUID } from 'node:crypto';
import { TestApp } from '../support/app';

/** One answer as the fuzzers and attackers see it: status, headers, raw text, parsed body. */
export interface Answer {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
  body: unknown;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * Raw HTTP through Node's fetch (keep-alive connections): bodies are sent exactly as given, so
 * invalid JSON, wrong content types and oversized bodies reach the service as a client sent them.
 */
export async function send(baseUrl: string, req: RawRequest): Promise<Answer> {
  const res = await fetch(baseUrl + req.path, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', headers: res.headers, text, body };
}

export async function baseUrlOf(t: TestApp): Promise<string> {
  return (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function inPool<T, R>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i], i);
      }
    }),
  );
  return results;
}

/** Why an answer is not an RFC 9457 problem+json 4xx with a stable code, or undefined when it is. */
export function notA4xxProblem(a: Answer): string | undefined {
  if (a.status < 400 || a.status >= 500) return `status ${a.status}`;
  if (!/^application\/problem\+json/.test(a.contentType)) return `content-type ${a.contentType}`;
  const body = a.body as { code?: unknown; status?: unknown; type?: unknown; title?: unknown } | undefined;
  if (
    !body ||
    typeof body.code !== 'string' ||
    body.status !== a.status ||
    typeof body.type !== 'string' ||
    typeof body.title !== 'string'
  ) {
    return `body ${a.text.slice(0, 200)}`;
  }
  return undefined;
}

/** Internals an answer must never carry: stack frames, SQL, driver and ORM messages, file paths. */
export const INTERNALS =
  /\bat [\w$.<>]+ \(|node_modules|\/src\/|\.ts:\d+|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|prisma|PrismaClient|\bpg_|\brelation "|duplicate key value|violates|syntax error at|ECONNREFUSED|QueryFailedError|TypeError|ReferenceError/i;

/**
 * What must not move while bad input is refused: the trial balance (from the API, as an auditor
 * reads it), every balance row, every item's stock and sold count and codes by status, and the
 * number of journal entries, earn events, redemptions and idempotency records of money moves.
 */
export async function booksSnapshot(t: TestApp): Promise<Record<string, unknown>> {
  const trial = (await t.http.get('/v1/audit/trial-balance').set(t.admin).expect(200)).body;
  delete trial.asOf;
  const q = <T>(sql: string) => t.prisma.$queryRawUnsafe<T[]>(sql);
  return {
    trialBalance: trial,
    balances: await q(`SELECT account_id::text, shard, debits_posted::text, credits_posted::text,
        debits_pending::text, credits_pending::text FROM account_balances ORDER BY account_id, shard`),
    stock: await q(`SELECT id, stock, sold, active_from::text, active_to::text, price_points::text FROM catalogue_items ORDER BY id`),
    codes: await q(`SELECT item_id, status, count(*)::int AS n FROM item_codes GROUP BY item_id, status ORDER BY item_id, status`),
    perResident: await q(`SELECT * FROM resident_item_counts ORDER BY 1, 2`),
    journal: await q(`SELECT count(*)::int AS n, max(seq)::text AS last FROM ledger_transactions`),
    earnEvents: await q(`SELECT status, count(*)::int AS n FROM earn_events GROUP BY status ORDER BY status`),
    redemptions: await q(`SELECT status, count(*)::int AS n FROM redemptions GROUP BY status ORDER BY status`),
    rules: await q(`SELECT * FROM earning_rules ORDER BY id`),
    apiClients: await q(`SELECT id::text, revoked_at::text FROM api_clients ORDER BY id`),
  };
}

export const idempotencyKey = () => ({ 'Idempotency-Key': randomUUID() });

/** Runs a reconciliation through the API, as an auditor would, and waits for its report. */
export async function reconcile(t: TestApp): Promise<{ status: string; checks: { name: string; passed: boolean; detail: string }[] }> {
  const started = await t.http.post('/v1/audit/reconciliations').set(t.admin).expect(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const report = (await t.http.get(`/v1/audit/reconciliations/${started.body.id}`).set(t.admin).expect(200)).body;
    if (report.status !== 'running') return report;
    if (Date.now() > deadline) throw new Error('the reconciliation did not finish');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The names of the checks a reconciliation report failed. */
export const failedChecks = (report: { checks: { name: string; passed: boolean; detail: string }[] }) =>
  report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
