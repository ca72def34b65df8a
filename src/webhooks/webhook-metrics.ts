import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../infra/metrics/metrics.service';
import { WebhooksRepository } from './webhooks.repository';

/** The webhooks' series, on the service's one registry (GET /metrics). */
@Injectable()
export class WebhookMetrics {
  readonly attempts: Counter<'outcome'>;
  readonly duration: Histogram;

  constructor(metrics: MetricsService, repository: WebhooksRepository) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'civic_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, failed (to be retried), gave_up, gone (410: webhook disabled), unsafe_url',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'civic_webhook_attempt_duration_seconds',
      help: 'How long one delivery attempt took, to the answer or the timeout',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    // read when scraped: what the outbox holds and how long the oldest has waited
    let backlog: Promise<{ pending: number; oldestSeconds: number }> | null = null;
    const read = () => {
      backlog ??= repository.backlog().finally(() => setTimeout(() => (backlog = null), 0));
      return backlog;
    };
    new Gauge({
      name: 'civic_webhook_outbox_pending',
      help: 'Webhook deliveries not yet delivered nor given up',
      registers,
      async collect() {
        this.set((await read()).pending);
      },
    });
    new Gauge({
      name: 'civic_webhook_outbox_age_seconds',
      help: 'Age of the oldest pending webhook delivery (0 when none)',
      registers,
      async collect() {
        this.set((await read()).oldestSeconds);
      },
    });
  }
}
