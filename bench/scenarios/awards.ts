import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { getHeapSpaceStatistics } from 'node:v8';
import { signResidentToken } from '../../src/auth/domain/resident-token';
import { APP_CONFIG, AppConfig } from '../../src/config/config';
import { BenchOptions } from '../options';
import { percentile, RunResult } from '../stats';
import { ClientRequest, ReadPace, readLoad } from '../support/client';
import { BenchApp } from '../support/service';

export interface AwardFigures {
  validation: RunResult;
  execution: RunResult;
  /** the balance reads at the run's pace (`--award-read-rate`), idle and during the execution */
  idleReads: RunResult;
  busyReads: RunResult;
  /** reads due during the award but not sent: MAX_OUT were already out (open loop) */
  busyMissed: number;
  /** idle, four readers each reading again as soon as answered (the figure of the closed-loop method) */
  idleClosedReads: RunResult;
  rssStart: number;
  rssPeak: number;
  /** V8's young generation at the award's start and end (bytes): part of the RSS that --max-semi-space-size bounds */
  youngStart: number;
  youngEnd: number;
  /** the process's event-loop delay during the execution, p99 in ms (the reads' wait in Node, not in PostgreSQL) */
  loopDelayP99: number;
  idleLoopDelayP99: number;
  /** the service's event loop's CPU per idle read at the run's pace, in ms (this process's main thread) */
  idleCpuPerRead: number;
  /** the same over the closed-loop idle reads (4,000 reads in a few seconds: less of the schedules' own work in it) */
  idleClosedCpuPerRead: number;
  /** the service's garbage collections during the execution: scavenges and full collections, their count, total and longest pause (ms) */
  gc: { scavenges: GcPauses; fullCollections: GcPauses };
  /** with --award-worker: the worker process's RSS at the award's start and at most during it */
  workerRssStart?: number;
  workerRssPeak?: number;
}

export interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** A worker process (the built `src/worker.js`, PROCESS_ROLE=worker) on the same database and queues. */
export interface AwardWorker {
  pid: number;
  stop(): Promise<void>;
}

/** Starts the built worker entry point beside the service, consuming the queues of `queuePrefix`. */
export function startAwardWorker(o: BenchOptions, url: string, queuePrefix: string, env: Record<string, string>): AwardWorker {
  // dist-bench holds the service's build beside the benchmark's
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'src', 'worker.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: url,
      DATABASE_POOL_SIZE: String(o.workers),
      REDIS_URL: o.redis,
      QUEUE_PREFIX: queuePrefix,
      LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The size of V8's young generation now (both semi-spaces: --max-semi-space-size bounds each). */
function youngGeneration(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** Another process's resident set, in bytes (Linux). */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return kb ? Number(kb[1]) * 1024 : 0;
}

/**
 * A prize day: one award of `--rows` rows (one new resident each, 1 to 4 points), uploaded as a
 * text/csv stream (generated as it is sent: the upload is never a string in memory) and executed
 * to the end. Measured: rows validated and stored per second, credits per second, the process's
 * RSS during it against its start, and a resident's balance reads during the execution against
 * the same reads, at the same pace, while idle (`--award-read-rate`).
 */
export async function awardScenario(o: BenchOptions, { app, base, adminKey }: BenchApp, worker?: AwardWorker): Promise<AwardFigures> {
  const config = app.get<AppConfig>(APP_CONFIG);
  const token = `Bearer ${signResidentToken('reader', config.residentJwtSecret!, 7200)}`;
  const read: ClientRequest = { method: 'GET', path: '/v1/me/balance', headers: { Authorization: token }, expect: 200 };
  const figures = (latencies: number[], seconds: number): RunResult => ({
    operations: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  });
  const timed = async (pace: ReadPace, count: number): Promise<RunResult> => {
    const started = process.hrtime.bigint();
    const latencies = await readLoad(base, read, pace, { count }).result;
    return figures(latencies, Number(process.hrtime.bigint() - started) / 1e9);
  };
  // the reads during the award and the idle ones they are compared with, at the same pace: by
  // default --award-read-rate a second at fixed times (open loop); 0: four readers each reading
  // again as soon as answered (closed loop, the method before 2026-12-03)
  const pace: ReadPace = o.awardReadRate > 0 ? { rate: o.awardReadRate } : { concurrency: 4 };
  await timed({ concurrency: 4 }, 500); // warm-up
  // the closed-loop idle figure, as measured before the reads were paced
  const closedCpu = process.threadCpuUsage();
  const idleClosedReads = await timed({ concurrency: 4 }, 4000);
  const closedCpuUsed = process.threadCpuUsage(closedCpu);
  const idleLoop = monitorEventLoopDelay({ resolution: 10 });
  idleLoop.enable();
  const idleCpu = process.threadCpuUsage();
  // paced: 20 s of reads
  const idleReads = o.awardReadRate > 0 ? await timed(pace, o.awardReadRate * 20) : await timed(pace, 4000);
  const idleCpuUsed = process.threadCpuUsage(idleCpu);
  idleLoop.disable();

  global.gc?.();
  const rssStart = process.memoryUsage().rss;
  const youngStart = youngGeneration();
  let rssPeak = rssStart;
  const workerRssStart = worker ? rssOf(worker.pid) : undefined;
  let workerRssPeak = workerRssStart;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    if (worker) workerRssPeak = Math.max(workerRssPeak!, rssOf(worker.pid));
  }, 100);
  // AWARD_MEMORY_LOG=1: the process's memory by kind every 5 s (where an RSS rise lives: V8's
  // heap, buffers outside it, or neither, i.e. the allocator's)
  const mb = (b: number) => (b / 1048576).toFixed(0);
  const memoryLog =
    process.env.AWARD_MEMORY_LOG === '1'
      ? setInterval(() => {
          const m = process.memoryUsage();
          console.log(
            `memory ${new Date().toISOString()}: rss ${mb(m.rss)} heapTotal ${mb(m.heapTotal)} heapUsed ${mb(m.heapUsed)} young ${mb(youngGeneration())} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)} MB`,
          );
        }, 5000)
      : undefined;

  // the file, generated line by line as the request sends it
  function* lines(): Iterable<string> {
    yield 'residentId,points,reference\n';
    const batch: string[] = [];
    for (let i = 0; i < o.rows; i++) {
      batch.push(`winner-${i},${1 + (i % 4)},prize-day\n`);
      if (batch.length === 1000) yield batch.splice(0).join('');
    }
    if (batch.length) yield batch.join('');
  }
  const headers = { 'X-API-Key': adminKey };
  const t0 = process.hrtime.bigint();
  const uploaded = await fetch(`${base}/v1/admin/awards?description=Prize%20day`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'text/csv' },
    body: Readable.toWeb(Readable.from(lines())),
    duplex: 'half',
  });
  if (uploaded.status !== 202) throw new Error(`award upload: ${uploaded.status} ${await uploaded.text()}`);
  const award = (await uploaded.json()) as { id: string; valid: number };
  const validated = Number(process.hrtime.bigint() - t0) / 1e9;
  if (award.valid !== o.rows) throw new Error(`award upload: ${award.valid} valid rows of ${o.rows}`);

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const gc = { scavenges: { count: 0, totalMs: 0, maxMs: 0 }, fullCollections: { count: 0, totalMs: 0, maxMs: 0 } };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      const pauses =
        kind === constants.NODE_PERFORMANCE_GC_MINOR
          ? gc.scavenges
          : kind === constants.NODE_PERFORMANCE_GC_MAJOR
            ? gc.fullCollections
            : null;
      if (!pauses) continue;
      pauses.count++;
      pauses.totalMs += entry.duration;
      pauses.maxMs = Math.max(pauses.maxMs, entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const t1 = process.hrtime.bigint();
  const executing = await fetch(`${base}/v1/admin/awards/${award.id}/execute`, { method: 'POST', headers });
  if (executing.status !== 202) throw new Error(`award execute: ${executing.status} ${await executing.text()}`);
  // balance reads while it runs, and its progress polled, from a thread of their own until it is done
  const busyStarted = process.hrtime.bigint();
  const busyLoad = readLoad(base, read, pace, { watch: { path: `/v1/admin/awards/${award.id}`, headers } });
  // the end of the execution: when the award is seen done (not when the reads then out are answered)
  await busyLoad.watched;
  const t2 = process.hrtime.bigint();
  const busy = await busyLoad.stop();
  const busySeconds = Number(process.hrtime.bigint() - busyStarted) / 1e9;
  const executed = Number(t2 - t1) / 1e9;
  clearInterval(sampler);
  clearInterval(memoryLog);
  loop.disable();
  gcObserver.disconnect();
  return {
    validation: { operations: o.rows, seconds: validated, perSecond: o.rows / validated, p50: 0, p99: 0 },
    execution: { operations: o.rows, seconds: executed, perSecond: o.rows / executed, p50: 0, p99: 0 },
    idleReads,
    busyReads: figures(busy, busySeconds),
    busyMissed: await busyLoad.missed,
    idleClosedReads,
    rssStart,
    youngStart,
    youngEnd: youngGeneration(),
    rssPeak,
    loopDelayP99: loop.percentile(99) / 1e6,
    idleLoopDelayP99: idleLoop.percentile(99) / 1e6,
    idleCpuPerRead: (idleCpuUsed.user + idleCpuUsed.system) / 1000 / idleReads.operations,
    idleClosedCpuPerRead: (closedCpuUsed.user + closedCpuUsed.system) / 1000 / idleClosedReads.operations,
    gc,
    workerRssStart,
    workerRssPeak,
  };
}
