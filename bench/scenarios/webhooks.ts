import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository';
import { BenchOptions, EARN_BATCH } from '../options';
import { RunResult } from '../stats';
import { waitUntil } from '../support/client';
import { BenchApp } from '../support/service';
import { earnIngest } from './earn-ingest';

export interface WebhooksFigures {
  /** earn ingest with no webhook, before and after the run with one */
  without: [RunResult, RunResult];
  /** earn ingest with one webhook subscribed to earn_event.posted */
  withWebhook: RunResult;
  /** the deliveries the receiver got, from the first to the last: deliveries/s */
  drain: RunResult;
  /** seconds from the last event posted to the last delivery received */
  drainLagSeconds: number;
  /** the deliveries received after the last event was posted, over the time they took: the drain's pace when it is behind */
  catchUp: RunResult;
  /** the oldest pending delivery's age, at its highest (the longest any delivery waited) */
  peakAgeSeconds: number;
  /** deliveries still pending when the wait for the drain ended (0: drained) */
  undelivered: number;
}

/** How long after the ingest with a webhook the scenario waits for the outbox to drain. */
const DRAIN_WAIT_MS = 60_000;

/**
 * What a webhook costs earn ingest, and how fast the outbox drains: earn ingest (as in its own
 * scenario, a source of its own per run) without a webhook, with one webhook subscribed to
 * `earn_event.posted` that a local node:http receiver in this process answers at once (200), and
 * without again (the webhook deleted), on one service. The receiver counts what it gets; the
 * drain rate is its deliveries over the time from its first to its last. The outbox's peak age
 * (the metric's figure, the age of the oldest pending delivery, at its highest) is read from the
 * deliveries once the wait for the drain (DRAIN_WAIT_MS at most) is over: the oldest pending
 * delivery at any moment is one that was delivered later (or never), so the highest age is the
 * longest any delivery waited, from its event's transaction to its delivery or to the end of
 * the wait. (It was sampled, a count of the whole outbox every 100 ms, and the wait polled the
 * same count every 20 ms: at 60,000 pending, reading the outbox it measured loaded the database
 * the drain and the ingest run on.) Deleting the webhook then cancels what it had still to receive.
 */
export async function webhooks(o: BenchOptions, service: BenchApp): Promise<WebhooksFigures> {
  const received: number[] = [];
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(performance.now());
      res.writeHead(200).end();
    });
  });
  receiver.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  try {
    const first = await earnIngest(o, service, 'plain1');

    const hook = await service.call('/v1/admin/webhooks', { url, events: ['earn_event.posted'] }, service.adminKey);
    const backlog = service.app.get(WebhooksRepository);
    const withWebhook = await earnIngest(o, service, 'hooked');
    const ingestEnded = performance.now();
    // every event of the run (and its warm-up batch) was posted: one delivery each
    const expected = withWebhook.operations + EARN_BATCH;
    // the drain is waited for at most DRAIN_WAIT_MS after the ingest: a slow outbox is measured, not
    // waited out; the outbox itself is asked only once a second, and once the receiver has it all
    const giveUpAt = performance.now() + DRAIN_WAIT_MS;
    let asked = 0;
    await waitUntil(async () => {
      if (performance.now() > giveUpAt) return true;
      if (received.length < expected && performance.now() - asked < 1_000) return false;
      asked = performance.now();
      return (await backlog.backlog()).pending === 0;
    });
    const [{ peak }] = await service.app.get(PrismaService).$queryRawUnsafe<{ peak: number | null }[]>(
      `SELECT extract(epoch FROM max(coalesce(delivered_at, CASE WHEN status = 'pending' THEN clock_timestamp() ELSE last_attempt_at END) - created_at))::float8 AS peak
       FROM webhook_deliveries WHERE webhook_id = $1::uuid`,
      hook.id,
    );
    const peakAgeSeconds = peak ?? 0;
    const undelivered = expected - received.length;
    const seconds = received.length > 1 ? (received[received.length - 1] - received[0]) / 1000 : 0;
    const drain: RunResult = {
      operations: received.length,
      seconds,
      perSecond: seconds > 0 ? received.length / seconds : 0,
      p50: 0,
      p99: 0,
    };
    const drainLagSeconds = Math.max(0, ((received[received.length - 1] ?? ingestEnded) - ingestEnded) / 1000);
    const late = received.filter((at) => at > ingestEnded).length;
    const catchUp: RunResult = {
      operations: late,
      seconds: drainLagSeconds,
      perSecond: drainLagSeconds > 0 ? late / drainLagSeconds : 0,
      p50: 0,
      p99: 0,
    };

    const deleted = await fetch(`${service.base}/v1/admin/webhooks/${hook.id as string}`, {
      method: 'DELETE',
      headers: { 'X-API-Key': service.adminKey },
    });
    if (deleted.status !== 200) throw new Error(`deleting the webhook: ${deleted.status}`);
    const second = await earnIngest(o, service, 'plain2');
    return { without: [first, second], withWebhook, drain, drainLagSeconds, catchUp, peakAgeSeconds, undelivered };
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
}
