import { Client } from 'pg';
import { BENCH_DB } from '../options';

async function withServer(serverUrl: string, fn: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops the benchmark's database if it is there and makes it afresh. */
export const recreateDatabase = (serverUrl: string, name = BENCH_DB) =>
  withServer(serverUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });

export const dropDatabase = (serverUrl: string, name = BENCH_DB) =>
  withServer(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

/** The URL of the benchmark's database on the server. */
export function benchDatabaseUrl(serverUrl: string, name = BENCH_DB): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
