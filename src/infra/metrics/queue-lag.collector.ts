import { getQueueToken } from '@nestjs/bull';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bull';
import { Gauge } from 'prom-client';
import { EARN_QUEUE } from '../../earning/earn-queue';
import { PrismaService } from '../database/prisma.service';
import { MetricsService } from './metrics.service';

const SCRAPE_TIMEOUT_MS = 1_000;
/** How long one reading serves further scrapes: /metrics is public, and this reading queries the database. */
const READING_TTL_MS = 5_000;
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

interface Backlog {
  count: number;
  oldestAgeSeconds: number;
}

/**
 * How far processing lags behind intake, read when Prometheus scrapes: the earn queue's jobs by
 * state (with Redis), and the accepted events not yet processed with the age of the oldest,
 * which is the lag that matters whether the queue, a worker or the sweeper is behind. A source
 * that does not answer in time is left out of that scrape rather than failing it.
 */
@Injectable()
export class QueueLagCollector implements OnModuleInit {
  private queue: Queue | null = null;
  /** the last reading of the backlog, shared by both gauges and by scrapes within its lifetime (one query at a time) */
  private reading?: { at: number; value: Promise<Backlog | null> };
  /** the backlog query while it runs: a slow one is waited for again, never started a second time beside it */
  private query?: Promise<Backlog>;

  constructor(
    private readonly metrics: MetricsService,
    private readonly prisma: PrismaService,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    try {
      this.queue = this.moduleRef.get<Queue>(getQueueToken(EARN_QUEUE), { strict: false });
    } catch {
      this.queue = null; // no Redis: batches are processed in-process, there is no queue
    }
    const registers = [this.metrics.registry];
    const collector = this;

    new Gauge({
      name: 'civic_earn_queue_jobs',
      help: 'Jobs in the earn queue by state (only with Redis)',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const counts = await collector.jobCounts();
        if (counts) for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });

    new Gauge({
      name: 'civic_earn_events_unprocessed',
      help: 'Earn events accepted and not yet processed (one reading serves 5 s of scrapes; a scrape the database does not answer within 1 s keeps the last value)',
      registers,
      async collect() {
        const lag = await collector.unprocessed();
        if (lag) this.set(lag.count);
      },
    });
    new Gauge({
      name: 'civic_earn_oldest_unprocessed_age_seconds',
      help: 'Age of the oldest accepted earn event not yet processed (0 when none): the processing lag',
      registers,
      async collect() {
        const lag = await collector.unprocessed();
        if (lag) this.set(lag.oldestAgeSeconds);
      },
    });
  }

  private async jobCounts(): Promise<Record<string, number> | null> {
    if (!this.queue) return null;
    return withTimeout(this.queue.getJobCounts() as unknown as Promise<Record<string, number>>).catch(() => null);
  }

  private unprocessed(): Promise<Backlog | null> {
    if (!this.reading || Date.now() - this.reading.at >= READING_TTL_MS) {
      this.query ??= this.readBacklog().finally(() => (this.query = undefined));
      this.reading = { at: Date.now(), value: withTimeout(this.query).catch(() => null) };
    }
    return this.reading.value;
  }

  private async readBacklog(): Promise<Backlog> {
    const rows = await this.prisma.$queryRaw<{ count: number; age: number | null }[]>`
      SELECT count(*)::int AS count, extract(epoch FROM now() - min(received_at))::float8 AS age
      FROM earn_events WHERE status = 'received'`;
    return { count: rows[0].count, oldestAgeSeconds: Math.max(0, rows[0].age ?? 0) };
  }
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), SCRAPE_TIMEOUT_MS).unref()),
  ]);
}
