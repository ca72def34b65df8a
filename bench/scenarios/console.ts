import { Pool } from 'pg';
import { BenchOptions } from '../options';
import { measure, RunResult } from '../stats';
import { recreateDatabase } from '../support/database';
import { startService } from '../support/service';

/** Days the scenario's journal is spread over (the overview shows the last 30 of them). */
const DAYS = 90;
const RESIDENTS = 10_000;
const PARTNERS = 20;
const FUNDS = 5;
/** Overview renders timed per ledger, one after another. */
const RENDERS = 40;

export interface ConsoleResult {
  postings: number;
  /** the first render after loading: it keeps the daily figures of every closed day (what the scheduled job does in production) */
  firstRenderMs: number;
  renders: RunResult;
}

/**
 * The finance console's overview (`GET /app/finance`, the last 30 days: charts, tables, totals
 * by partner and fund, the latest reconciliation) on a small ledger and on a large one, in the
 * same run: its period figures read kept daily totals and the open day's journal, so its time
 * should not grow with the journal (goal: the large one within 2x the small one).
 */
export async function consoleOverview(o: BenchOptions, url: string): Promise<ConsoleResult[]> {
  const results: ConsoleResult[] = [];
  for (const postings of [o.consoleSmall, o.console]) {
    await recreateDatabase(o.database, o.databaseName);
    const service = await startService(o, url);
    try {
      await load(url, postings);
      const cookie = await signIn(service.base, service.adminKey);
      const render = async () => {
        const res = await fetch(`${service.base}/app/finance`, { headers: { Cookie: cookie } });
        const html = await res.text();
        if (res.status !== 200 || !html.includes('data-chart-name="movements"')) throw new Error(`overview: ${res.status}`);
      };
      const started = process.hrtime.bigint();
      await render();
      const firstRenderMs = Number(process.hrtime.bigint() - started) / 1e6;
      await measure(5, 1, render); // warm-up
      results.push({ postings, firstRenderMs, renders: await measure(RENDERS, 1, render) });
    } finally {
      await service.app.close();
    }
  }
  return results;
}

/**
 * A journal of `postings` postings over the last DAYS days, written straight into the tables by
 * set-based SQL (as the reconciliation scenario does): earns (programme:issued to a resident),
 * redemptions (a resident to a partner) and donations (a resident to a fund), seven in ten earns.
 */
async function load(url: string, postings: number): Promise<void> {
  const pool = new Pool({ connectionString: url, max: 1 });
  const n = Math.floor(postings / 2);
  try {
    await pool.query(`
      INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        SELECT 'resident:r' || g, 'POINTS', 'C', true, 1 FROM generate_series(1, ${RESIDENTS}) g;
      INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        SELECT 'partner:p' || g || ':redeemed', 'POINTS', 'C', false, 16 FROM generate_series(1, ${PARTNERS}) g;
      INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
        SELECT 'charity:f' || g, 'POINTS', 'C', false, 16 FROM generate_series(1, ${FUNDS}) g;
      INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ('programme:issued', 'POINTS', 'D', false, 16);
      SELECT ledger_partitions_ensure(now() - interval '${DAYS + 1} days', ${Math.ceil(DAYS / 28) + 1});
      SET session_replication_role = replica;
      CREATE TEMP TABLE gen AS
        SELECT g, md5('t' || g)::uuid AS id,
               CASE WHEN g % 10 < 7 THEN 'earn' WHEN g % 10 < 9 THEN 'redeem' ELSE 'donate' END AS type,
               now() - ((g % (${DAYS} * 24)) * interval '1 hour') - ((g % 3571) * interval '1 second') AS at
        FROM generate_series(1, ${n}) g;
      INSERT INTO ledger_transactions (id, type, kind, metadata, effective_at, created_at)
        SELECT id, type, 'posted', '{}', at, at FROM gen;
      -- the id registry, which the journal's statement trigger fills (not fired in this replica-role load)
      INSERT INTO ledger_transaction_ids (id, created_at) SELECT id, at FROM gen;
      INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, created_at)
        SELECT id, (SELECT id FROM ledger_accounts WHERE code = CASE type WHEN 'earn' THEN 'programme:issued' ELSE 'resident:r' || (1 + g % ${RESIDENTS}) END),
               g % 16, 'POINTS', 'D', CASE type WHEN 'earn' THEN 20 WHEN 'redeem' THEN 10 ELSE 5 END, false, at FROM gen
        UNION ALL
        SELECT id, (SELECT id FROM ledger_accounts WHERE code = CASE type WHEN 'earn' THEN 'resident:r' || (1 + g % ${RESIDENTS})
                                                                           WHEN 'redeem' THEN 'partner:p' || (1 + g % ${PARTNERS}) || ':redeemed'
                                                                           ELSE 'charity:f' || (1 + g % ${FUNDS}) END),
               0, 'POINTS', 'C', CASE type WHEN 'earn' THEN 20 WHEN 'redeem' THEN 10 ELSE 5 END, false, at FROM gen;
      SET session_replication_role = origin;
      ANALYZE;`);
  } finally {
    await pool.end();
  }
}

/** A page session for the admin key, as a browser gets one (the sign-in form with its CSRF token). */
async function signIn(base: string, apiKey: string): Promise<string> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, value] = pair.split('=');
      if (value) jar.set(name, value);
      else jar.delete(name);
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/app/login`);
  keep(form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const res = await fetch(`${base}/app/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookie() },
    body: new URLSearchParams({ apiKey, _csrf: csrf }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in: ${res.status}`);
  keep(res);
  return cookie();
}
