import { Logger } from '@nestjs/common';
import cluster, { Worker } from 'node:cluster';

/** A process that dies sooner than this after its start is restarted after a growing pause (a crash loop). */
const STABLE_MS = 10_000;
const MAX_PAUSE_MS = 30_000;

/**
 * API_PROCESSES > 1: this (primary) process only supervises. It forks `count` API processes that
 * share the port through node:cluster (the primary hands them connections in turn), restarts one
 * that dies, and on SIGTERM or SIGINT asks each to stop (they finish their in-flight requests and
 * jobs) and exits when they have, or after `shutdownTimeoutMs`.
 */
export function superviseApiProcesses(count: number, shutdownTimeoutMs: number): void {
  const logger = new Logger('Cluster');
  const started = new Map<number, number>();
  let pause = 0;
  let stopping = false;

  const fork = (): void => {
    const worker = cluster.fork();
    started.set(worker.id, Date.now());
  };

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const lived = Date.now() - (started.get(worker.id) ?? Date.now());
    started.delete(worker.id);
    if (stopping) {
      if (started.size === 0) process.exit(0);
      return;
    }
    pause = lived >= STABLE_MS ? 0 : Math.min(MAX_PAUSE_MS, Math.max(500, pause * 2));
    logger.warn(`API process ${worker.process.pid} ended (${signal ?? `code ${code}`}) after ${lived} ms; a new one in ${pause} ms`);
    setTimeout(fork, pause).unref();
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: stopping ${started.size} API process(es)`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      logger.error(`API processes still running after ${shutdownTimeoutMs} ms: ending them`);
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownTimeoutMs + 1_000).unref();
    if (started.size === 0) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < count; i++) fork();
  logger.log(`${count} API processes share the port; this process (${process.pid}) restarts any that ends`);
}

/** Whether this process is one of the API processes a supervisor forked. */
export function isSupervisedApiProcess(): boolean {
  return cluster.isWorker;
}

/**
 * A stopping process (SIGTERM, SIGINT) finishes its in-flight requests and jobs, but not for
 * ever: after `timeoutMs` it exits anyway.
 */
export function boundShutdown(timeoutMs: number): void {
  const arm = (signal: NodeJS.Signals): void => {
    // asked to stop before the application took the signal (still starting): nothing is in
    // flight yet, so stop now (this listener alone would otherwise keep the process going)
    if (process.listenerCount(signal) === 0) process.exit(0);
    setTimeout(() => {
      new Logger('Shutdown').error(`still stopping after ${timeoutMs} ms: exiting with in-flight work left (it is retried elsewhere)`);
      process.exit(1);
    }, timeoutMs).unref();
  };
  process.once('SIGTERM', arm);
  process.once('SIGINT', arm);
}
