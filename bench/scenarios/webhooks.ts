import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository';
import { BenchOptions, EARN_BATCH } from '../options';
import { RunResult } from '../stats';
import { waitUntil } from '../support/client';
import { CpuFigures, CpuMeter } from '../support/cpu';
import { BenchApp } from '../support/service';
import { earnIngest } from './earn-ingest';

export interface WebhooksFigures {
  /** earn ingest with no webhook, before and after the run with one (with the CPU each used) */
  without: [RunResult & { cpu?: CpuFigures }, RunResult & { cpu?: CpuFigures }];
  /** earn ingest with one webhook subscribed to earn_event.posted */
  withWebhook: RunResult & { cpu?: CpuFigures };
  /** the CPU used from the end of that ingest to the end of the drain (the drain's catch-up alone) */
  drainTailCpu: CpuFigures;
  /** the receiver thread's CPU over the whole scenario (NaN when it runs on the service's thread) */
  receiverCpuSeconds: number;
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
 * `earn_event.posted` that a local node:http receiver on a thread of this process answers at once
 * (200), and without again (the webhook deleted), on one service; each phase with the CPU it
 * used (bench/support/cpu.ts). The receiver counts what it gets; the
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
  const receiver = await startReceiver(process.env.BENCH_RECEIVER === 'main');
  const meter = new CpuMeter(service.app.get(PrismaService));
  try {
    const first = await earnIngest(o, service, 'plain1', meter);

    const hook = await service.call('/v1/admin/webhooks', { url: receiver.url, events: ['earn_event.posted'] }, service.adminKey);
    const backlog = service.app.get(WebhooksRepository);
    const withWebhook = await earnIngest(o, service, 'hooked', meter);
    const ingestEnded = performance.now();
    const tailFrom = await meter.read();
    // every event of the run (and its warm-up batch) was posted: one delivery each
    const expected = withWebhook.operations + EARN_BATCH;
    // the drain is waited for at most DRAIN_WAIT_MS after the ingest: a slow outbox is measured, not
    // waited out; the outbox itself is asked only once a second, and once the receiver has it all
    const giveUpAt = performance.now() + DRAIN_WAIT_MS;
    let asked = 0;
    await waitUntil(async () => {
      if (performance.now() > giveUpAt) return true;
      if (receiver.count() < expected && performance.now() - asked < 1_000) return false;
      asked = performance.now();
      return (await backlog.backlog()).pending === 0;
    });
    const tail = await meter.since(tailFrom);
    const { times: received, cpuSeconds: receiverCpu } = await receiver.report();
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
    const second = await earnIngest(o, service, 'plain2', meter);
    return {
      without: [first, second],
      withWebhook,
      drain,
      drainLagSeconds,
      catchUp,
      peakAgeSeconds,
      undelivered,
      drainTailCpu: tail,
      receiverCpuSeconds: receiverCpu,
    };
  } finally {
    await receiver.close();
  }
}

interface Receiver {
  url: string;
  /** deliveries received so far */
  count: () => number;
  /** when each delivery was received (performance.now() of this thread, in order), and the receiver's CPU seconds */
  report: () => Promise<{ times: number[]; cpuSeconds: number }>;
  close: () => Promise<void>;
}

/**
 * The webhook's receiver: node:http on loopback answering 200 once it has a request's body, and
 * nothing else (no parsing, no verification: the cheapest a real receiver can be). On a thread
 * of its own, as a receiver on another machine would not run on the service's event loop; it
 * still takes its share of this machine's cores, reported apart. (`BENCH_RECEIVER=main` puts it
 * on the service's thread, as it was until 2026-12-02.)
 */
async function startReceiver(onMainThread: boolean): Promise<Receiver> {
  if (onMainThread) {
    const times: number[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        times.push(performance.now());
        res.writeHead(200).end();
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
      count: () => times.length,
      report: () => Promise.resolve({ times, cpuSeconds: NaN }),
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  const counter = new SharedArrayBuffer(4);
  const source = `
    const { parentPort, workerData: { counter } } = require('node:worker_threads');
    const http = require('node:http');
    const count = new Int32Array(counter);
    const times = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        times.push(performance.timeOrigin + performance.now());
        Atomics.add(count, 0, 1);
        res.writeHead(200).end();
      });
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
    parentPort.on('message', (m) => {
      if (m === 'report') {
        const cpu = process.threadCpuUsage();
        parentPort.postMessage({ times, cpuSeconds: (cpu.user + cpu.system) / 1e6 });
      } else if (m === 'close') {
        server.closeAllConnections();
        server.close(() => process.exit(0));
      }
    });`;
  const worker = new Worker(source, { eval: true, workerData: { counter } });
  const count = new Int32Array(counter);
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    count: () => Atomics.load(count, 0),
    report: async () => {
      const answer = new Promise<{ times: number[]; cpuSeconds: number }>((resolve) => worker.once('message', resolve));
      worker.postMessage('report');
      const { times, cpuSeconds } = await answer;
      // the worker's clock has an origin of its own: its moments on this thread's scale
      return { times: times.map((t) => t - performance.timeOrigin), cpuSeconds };
    },
    close: async () => {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      await exited;
    },
  };
}
