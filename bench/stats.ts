/** Small helpers for the benchmark's figures. */
export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return 0;
  const index = Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1);
  return sortedMs[Math.max(0, index)];
}

export interface RunResult {
  operations: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Runs `count` operations with `concurrency` workers and measures throughput and latency. */
export async function measure(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<RunResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = process.hrtime.bigint();
        await op(i);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { operations: count, seconds, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** The figures as the table `npm run bench` prints. */
export function table(rows: [string, RunResult][]): string {
  const header = ['scenario', 'ops', 'seconds', 'ops/s', 'p50 ms', 'p99 ms'];
  const body = rows.map(([name, r]) => [
    name,
    String(r.operations),
    r.seconds.toFixed(2),
    r.perSecond.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
