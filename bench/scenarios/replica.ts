import { Client } from 'pg';
import { ReadReplica } from '../../src/infra/database/read-replica';
import { PostgresPair } from '../../test/support/topology';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { startService } from '../support/service';
import { earnIngest } from './earn-ingest';

export interface ReplicaResult {
  /** earn ingest alone, before and after the run with reads */
  alone: [RunResult, RunResult];
  withReads: RunResult;
  /** the audit reads made during that ingest, each as soon as the one before was answered */
  reads: RunResult;
  /** those reads' median milliseconds by kind (the journal's page, the statement, the trial balance) */
  readMedians: Record<ReadKind, number>;
  /** earn ingest while the auditors read at a steady pace (`--audit-reads` a second in all) */
  withPacedReads?: RunResult;
  pacedReads?: RunResult;
  pacedReadMedians?: Record<ReadKind, number>;
  /** transactions the replica committed during the reads (its own count): the reads went there */
  replicaTransactions: number;
  /** whether the service found the replica usable throughout */
  replicaUsable: boolean;
}

/** Audit reads a finance team makes while the city earns: the journal's latest page, a resident's statement, a past trial balance. */
const READERS = 2;
const READ_KINDS = ['journal', 'statement', 'trial balance'] as const;
type ReadKind = (typeof READ_KINDS)[number];

/**
 * A PostgreSQL primary with a streaming replica made by pg_basebackup on loopback (as the
 * topology test makes them), the service on both (`DATABASE_REPLICA_URL`): earn ingest alone,
 * then with auditors reading from the replica all along (each as fast as it is answered), then
 * with the same auditors at a steady pace (`--audit-reads`), then alone again. Both servers share
 * this machine's cores, so the replica's work is not free here as it is on a host of its own.
 */
export async function replicaReads(o: BenchOptions): Promise<ReplicaResult> {
  const pair = new PostgresPair();
  await pair.start();
  try {
    const admin = new Client({ connectionString: pair.url('primary', 'postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${o.databaseName}`);
    await admin.end();
    const service = await startService(o, pair.url('primary', o.databaseName), {
      DATABASE_REPLICA_URL: pair.url('replica', o.databaseName),
    });
    try {
      const replica = service.app.get(ReadReplica);
      const first = await earnIngest(o, service, 'votes');
      const from = new Date(Date.now() - 3600_000).toISOString();
      const paths = [
        '/v1/audit/transactions?limit=100',
        `/v1/audit/accounts/resident:b1/statement?from=${from}&to=${new Date(Date.now() + 3600_000).toISOString()}`,
        `/v1/audit/trial-balance?asOf=${new Date().toISOString()}`,
      ];
      const before = await replicaCommits(pair, o.databaseName);
      let usable = replica.status.usable;
      /**
       * Earn ingest while READERS auditors read from the replica: each reads again as soon as it
       * has its answer (`perSecond` undefined: as many reads as the cores allow) or at a steady
       * pace, `perSecond` reads a second in all.
       */
      const ingestWhileReading = async (
        label: string,
        perSecond?: number,
      ): Promise<{ ingest: RunResult; reads: RunResult; medians: Record<ReadKind, number> }> => {
        let reading = true;
        const latencies: number[] = [];
        const byKind = new Map<ReadKind, number[]>(READ_KINDS.map((k) => [k, []]));
        const readStarted = process.hrtime.bigint();
        const gapMs = perSecond ? (1000 * READERS) / perSecond : 0;
        const readers = Array.from({ length: READERS }, async (_, r) => {
          for (let i = r; reading; i++) {
            const started = process.hrtime.bigint();
            const res = await fetch(service.base + paths[i % paths.length], { headers: { 'X-API-Key': service.adminKey } });
            if (res.status !== 200) throw new Error(`${paths[i % paths.length]}: ${res.status}`);
            await res.arrayBuffer();
            const ms = Number(process.hrtime.bigint() - started) / 1e6;
            latencies.push(ms);
            byKind.get(READ_KINDS[i % paths.length])!.push(ms);
            usable &&= replica.status.usable;
            if (gapMs > ms && reading) await new Promise((resolve) => setTimeout(resolve, gapMs - ms));
          }
        });
        let ingest: RunResult;
        try {
          ingest = await earnIngest(o, service, label);
        } finally {
          reading = false;
          await Promise.all(readers);
        }
        const readSeconds = Number(process.hrtime.bigint() - readStarted) / 1e9;
        latencies.sort((a, b) => a - b);
        const reads = {
          operations: latencies.length,
          seconds: readSeconds,
          perSecond: latencies.length / readSeconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        };
        const medians = Object.fromEntries(
          READ_KINDS.map((k) => [
            k,
            percentile(
              byKind.get(k)!.sort((a, b) => a - b),
              50,
            ),
          ]),
        );
        return { ingest, reads, medians: medians as Record<ReadKind, number> };
      };
      const closed = await ingestWhileReading('votes2');
      const replicaTransactions = (await replicaCommits(pair, o.databaseName)) - before;
      const paced = o.auditReads > 0 ? await ingestWhileReading('votes4', o.auditReads) : undefined;
      const second = await earnIngest(o, service, 'votes3');
      return {
        alone: [first, second],
        withReads: closed.ingest,
        reads: closed.reads,
        readMedians: closed.medians,
        ...(paced ? { withPacedReads: paced.ingest, pacedReads: paced.reads, pacedReadMedians: paced.medians } : {}),
        replicaTransactions,
        replicaUsable: usable,
      };
    } finally {
      await service.app.close();
    }
  } finally {
    await pair.remove();
  }
}

/** The replica's own count of committed transactions in the bench database. */
async function replicaCommits(pair: PostgresPair, database: string): Promise<number> {
  const c = new Client({ connectionString: pair.url('replica', 'postgres') });
  await c.connect();
  try {
    // the statistics snapshot of this session would stay frozen: read it fresh
    await c.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database]);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}
