import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { untilAborted } from '../common/abort';
import { MetricsService } from '../infra/metrics/metrics.service';
import { ScrapeReading } from '../infra/metrics/scrape-reading';
import { EarnQueue } from './earn-queue';
import { EarningRepository } from './earning.repository';

/** How long a scrape waits for a reading: /metrics must answer even when a source does not. */
const SCRAPE_TIMEOUT_MS = 1_000;
/** How long one backlog reading serves further scrapes: /metrics is public, and the reading queries the database. */
const READING_TTL_MS = 5_000;
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * How far earning lags behind intake, read when Prometheus scrapes: the earn queue's jobs by
 * state (with Redis), and the accepted events not yet processed with the age of the oldest,
 * which is the lag that matters whether the queue, a worker or the sweeper is behind. Earning
 * registers these gauges itself in the service's registry; a source that does not answer in time
 * is left out of that scrape rather than failing it.
 */
@Injectable()
export class EarnBacklogMetrics implements OnModuleInit {
  private readonly backlog: ScrapeReading<{ count: number; oldestAgeSeconds: number }>;

  constructor(
    private readonly metrics: MetricsService,
    private readonly queue: EarnQueue,
    repository: EarningRepository,
  ) {
    this.backlog = new ScrapeReading(() => repository.backlog(), { ttlMs: READING_TTL_MS, timeoutMs: SCRAPE_TIMEOUT_MS });
  }

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const queue = this.queue;
    const backlog = this.backlog;

    new Gauge({
      name: 'civic_earn_queue_jobs',
      help: 'Jobs in the earn queue by state (only with Redis)',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const counts = await untilAborted(queue.jobCounts(), AbortSignal.timeout(SCRAPE_TIMEOUT_MS)).catch(() => null);
        if (counts) for (const state of JOB_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'civic_earn_events_unprocessed',
      help: 'Earn events accepted and not yet processed (one reading serves 5 s of scrapes; a scrape the database does not answer within 1 s keeps the last value)',
      registers,
      async collect() {
        const lag = await backlog.get();
        if (lag) this.set(lag.count);
      },
    });
    new Gauge({
      name: 'civic_earn_oldest_unprocessed_age_seconds',
      help: 'Age of the oldest accepted earn event not yet processed (0 when none): the processing lag',
      registers,
      async collect() {
        const lag = await backlog.get();
        if (lag) this.set(lag.oldestAgeSeconds);
      },
    });
  }
}
