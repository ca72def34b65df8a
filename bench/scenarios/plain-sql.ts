import { Pool } from 'pg';
import { BenchOptions, RESIDENTS } from '../options';
import { measure, RunResult } from '../stats';

// The baselines: the same transfers written as plainly as SQL allows, in the same run as the
// service's scenarios, so that the ratios hold on a noisy machine.

/**
 * The same writes as plainly as SQL allows: two balance rows (one of them the single row of the
 * system account) updated and two postings inserted, one database transaction per transfer.
 */
export async function rowAtATimeFloor(o: BenchOptions, url: string): Promise<RunResult> {
  const pool = new Pool({ connectionString: url, max: o.workers });
  await pool.query(`
    CREATE TABLE plain_balances (account TEXT PRIMARY KEY, balance NUMERIC NOT NULL DEFAULT 0);
    CREATE TABLE plain_postings (id BIGSERIAL PRIMARY KEY, transfer BIGINT NOT NULL, account TEXT NOT NULL, amount NUMERIC NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO plain_balances (account) SELECT 'resident:b' || g FROM generate_series(0, ${RESIDENTS - 1}) g;
    INSERT INTO plain_balances (account) VALUES ('programme:issued');`);
  const result = await measure(o.transfers, o.workers, async (i) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE plain_balances SET balance = balance - 10 WHERE account = $1', ['programme:issued']);
      await client.query('UPDATE plain_balances SET balance = balance + 10 WHERE account = $1', [`resident:b${i % RESIDENTS}`]);
      await client.query('INSERT INTO plain_postings (transfer, account, amount) VALUES ($1, $2, -10), ($1, $3, 10)', [
        i,
        'programme:issued',
        `resident:b${i % RESIDENTS}`,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  await pool.end();
  return result;
}

/**
 * The same transfers as the floor, written as plainly but as set-based as SQL allows: 1000
 * transfers a statement pair (the balances moved by their sums, the postings inserted from a
 * series), one database transaction each: the ceiling any batching could approach.
 */
export async function batchedCeiling(o: BenchOptions, url: string): Promise<RunResult> {
  const pool = new Pool({ connectionString: url, max: 4 });
  await pool.query(`
    CREATE TABLE ceiling_balances (account TEXT PRIMARY KEY, balance NUMERIC NOT NULL DEFAULT 0);
    CREATE TABLE ceiling_postings (id BIGSERIAL PRIMARY KEY, transfer BIGINT NOT NULL, account TEXT NOT NULL, amount NUMERIC NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO ceiling_balances (account) SELECT 'resident:b' || g FROM generate_series(0, ${RESIDENTS - 1}) g;
    INSERT INTO ceiling_balances (account) VALUES ('programme:issued');`);
  const batch = 1000;
  const batches = Math.ceil((o.transfers * 5) / batch);
  const result = await measure(batches, 4, async (b) => {
    const client = await pool.connect();
    try {
      const first = b * batch;
      await client.query('BEGIN');
      await client.query(
        `UPDATE ceiling_balances c SET balance = c.balance + d.delta
         FROM (SELECT 'resident:b' || (g % ${RESIDENTS}) AS account, 10 * count(*) AS delta FROM generate_series($1::bigint, $1::bigint + $2 - 1) g GROUP BY 1
               UNION ALL SELECT 'programme:issued', -10 * $2) d
         WHERE c.account = d.account`,
        [first, batch],
      );
      await client.query(
        `INSERT INTO ceiling_postings (transfer, account, amount)
         SELECT g, 'programme:issued', -10 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g
         UNION ALL SELECT g, 'resident:b' || (g % ${RESIDENTS}), 10 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
        [first, batch],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  await pool.end();
  // per transfer, as the other rows count them
  const transfers = batches * batch;
  return { operations: transfers, seconds: result.seconds, perSecond: transfers / result.seconds, p50: result.p50, p99: result.p99 };
}
