import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DomainError } from '../../common/errors';

/**
 * The programme's Prometheus series, beside the process's default ones. One registry per
 * application instance (tests start several in one process).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly earnEvents = new Counter({
    name: 'civic_earn_events_total',
    help: 'Earn events by outcome: accepted, duplicate, rejected at intake; posted, pending, rejected when processed',
    labelNames: ['stage', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly redemptions = new Counter({
    name: 'civic_redemptions_total',
    help: 'Redemptions and donations by outcome (completed or the refusal code)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly partnerCodes = new Counter({
    name: 'civic_partner_code_requests_total',
    help: 'Partner code look-ups and redemptions by outcome',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly reconciliationFailed = new Gauge({
    name: 'civic_reconciliation_failed',
    help: '1 when the last reconciliation failed, 0 when it passed',
    registers: [this.registry],
  });

  readonly reconciliationDuration = new Histogram({
    name: 'civic_reconciliation_duration_seconds',
    help: 'How long reconciliation runs take',
    buckets: [1, 5, 15, 30, 60, 120, 300, 900],
    registers: [this.registry],
  });

  readonly reconciliationLastRun = new Gauge({
    name: 'civic_reconciliation_last_run_timestamp_seconds',
    help: 'When the last reconciliation finished',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Runs `work` and counts its outcome: `ok`, or the stable code of the error it ended with. */
  async outcome<T, L extends string>(counter: Counter<L>, labels: Omit<Record<L, string>, 'outcome'>, work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      counter.inc({ ...labels, outcome: 'ok' } as Record<L, string>);
      return result;
    } catch (error) {
      counter.inc({ ...labels, outcome: outcomeOf(error) } as Record<L, string>);
      throw error;
    }
  }
}

/** An outcome label: the stable code of a refusal, else 'error' (driver codes would make endless series). */
export function outcomeOf(error: unknown): string {
  return error instanceof DomainError ? error.code : 'error';
}
