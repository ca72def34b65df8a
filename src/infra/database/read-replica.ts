import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { LRUCache } from 'lru-cache';
import { untilAborted } from '../../common/abort';
import { APP_CONFIG, AppConfig } from '../../config/config';
import { REDIS } from '../queue/redis.token';
import { Database, openPostgres } from './database';
import { PrismaService, Tx } from './prisma.service';
import { TransactionHost } from './transaction-host';

/** How often the replica's lag is measured. */
const PROBE_MS = 1_000;
/** How long a probe may take before the replica counts as down. */
const PROBE_TIMEOUT_MS = 1_000;
/** How long the mark of a write is looked up in Redis before the read goes to the primary anyway. */
const MARK_TIMEOUT_MS = 100;

export interface ReplicaState {
  configured: boolean;
  /** reads go to the replica now: reachable, and behind by no more than the configured bound */
  usable: boolean;
  /** how far behind the primary it was at the last probe, in seconds (0 when it has replayed all it received) */
  lagSeconds: number | null;
  checkedAt: Date | null;
}

/**
 * Reads that may lag (audit, statements, history, public statistics, pages) go to a PostgreSQL
 * streaming replica when DATABASE_REPLICA_URL is set. Every second the replica's lag is measured
 * (what it received but has not replayed yet: now() - pg_last_xact_replay_timestamp()); while it
 * is down, or behind by more than REPLICA_MAX_LAG_MS, those reads go to the primary.
 *
 * Read-your-writes: a write to an account marks it (after commit) for twice the lag bound plus
 * one probe, in this process and in Redis for the others; a read of a marked account's history
 * goes to the primary. A replica behind by at most the bound has every write older than that.
 */
@Injectable()
export class ReadReplica implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ReadReplica');
  private database?: Database;
  private prisma?: PrismaService;
  private timer?: NodeJS.Timeout;
  private readonly marks?: LRUCache<string, true>;
  private readonly markMs: number;
  private state: ReplicaState = { configured: false, usable: false, lagSeconds: null, checkedAt: null };

  constructor(
    private readonly primary: TransactionHost,
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.markMs = 2 * (config.replica?.maxLagMs ?? 0) + PROBE_MS;
    if (config.replica) this.marks = new LRUCache({ max: 100_000, ttl: this.markMs });
  }

  async onModuleInit(): Promise<void> {
    const replica = this.config.replica;
    if (!replica) return;
    this.database = openPostgres({ url: replica.url, poolSize: this.config.database.poolSize });
    this.prisma = new PrismaService(this.database);
    this.state = { ...this.state, configured: true };
    await this.probe();
    this.timer = setInterval(() => void this.probe(), PROBE_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.prisma?.$disconnect();
    await this.database?.close();
  }

  /** Where a read that may lag goes: the open transaction (it must see its own writes), the replica when usable, else the primary. */
  get client(): Tx {
    if (this.primary.inTransaction || !this.state.usable || !this.prisma) return this.primary.client;
    return this.prisma;
  }

  /**
   * Like `client`, for one statement straight on the driver as a prepared statement outside a
   * transaction (TransactionHost.read): the reads a resident's app makes most skip Prisma's
   * per-query work and garbage.
   */
  read<T>(name: string, sql: string, params: unknown[]): Promise<T[]> {
    if (this.primary.inTransaction || !this.state.usable || !this.database) return this.primary.read<T>(name, sql, params);
    return this.database.query<T>(name, sql, params);
  }

  /** Like `client`, but the primary while `key` (an account) was written within the read-your-writes window. */
  async clientAfterWritesTo(key: string): Promise<Tx> {
    if (!this.prisma || !this.state.usable || this.primary.inTransaction) return this.primary.client;
    if (this.marks!.has(key)) return this.primary.client;
    if (this.redis) {
      try {
        if ((await untilAborted(this.redis.exists(this.markKey(key)), AbortSignal.timeout(MARK_TIMEOUT_MS))) === 1)
          return this.primary.client;
      } catch {
        return this.primary.client;
      }
    }
    return this.prisma;
  }

  /** Whether writes are marked at all: only with a replica configured. */
  get marksWrites(): boolean {
    return this.marks !== undefined;
  }

  /** Marks accounts written (after the commit of the transaction under way, if any): their reads go to the primary for a while. */
  noteWrites(keys: string[]): void {
    if (!this.marks || keys.length === 0) return;
    this.primary.afterCommit(() => {
      for (const key of keys) this.marks!.set(key, true);
      if (!this.redis) return;
      const pipeline = this.redis.pipeline();
      for (const key of keys) pipeline.set(this.markKey(key), '1', 'PX', this.markMs);
      pipeline.exec().catch((error: Error) => this.logger.warn(`write marks not shared: ${error.message}`));
    });
  }

  get status(): ReplicaState {
    return this.state;
  }

  private async probe(): Promise<void> {
    try {
      const [row] = await untilAborted(
        this.database!.query<{ recovering: boolean; lag: number | null }>(
          'replica-lag',
          `SELECT pg_is_in_recovery() AS recovering,
                  CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                       ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag`,
          [],
        ),
        AbortSignal.timeout(PROBE_TIMEOUT_MS),
      );
      const lagSeconds = row.lag === null ? null : Math.max(0, Number(row.lag));
      const usable = lagSeconds !== null && lagSeconds * 1000 <= this.config.replica!.maxLagMs;
      if (usable !== this.state.usable)
        this.logger.warn(usable ? 'replica in use for reads' : `replica behind by ${lagSeconds ?? '?'} s: reads on the primary`);
      this.state = { configured: true, usable, lagSeconds, checkedAt: new Date() };
    } catch (error) {
      if (this.state.usable) this.logger.warn(`replica unreachable (${(error as Error).message}): reads on the primary`);
      this.state = { configured: true, usable: false, lagSeconds: null, checkedAt: new Date() };
    }
  }

  private markKey(key: string): string {
    return `${this.config.queuePrefix}:written:${key}`;
  }
}
