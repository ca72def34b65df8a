import { readFileSync } from 'node:fs';
import { PrismaService } from '../../src/infra/database/prisma.service';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU used by a phase, in seconds: where the work went, whatever else ran on the machine. */
export interface CpuFigures {
  /** the service's event loop (this process's main thread; the service runs here) */
  main: number;
  /** this process's other threads: the clients' thread, the receiver's, libuv's pool, GC */
  threads: number;
  /** the PostgreSQL backends of the benchmark's database */
  database: number;
  /** every CPU of the machine that was busy, over the phase's wall time (2 = both cores of two) */
  machineBusy: number;
}

interface Reading {
  at: number;
  main: number;
  process: number;
  backends: Map<number, number>;
  machine: number;
}

function ticksOf(pid: number): number | null {
  try {
    // the command may hold spaces and parentheses: the fields start after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, the 14th and 15th fields (the 12th and 13th after the command)
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function machineBusyTicks(): number {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const [, ...values] = cpu.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait
    return values.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0);
  } catch {
    return 0;
  }
}

/**
 * Reads CPU times at a phase's start and end (Linux /proc; zeros elsewhere): a figure that holds
 * on a loaded machine where rates do not, since the CPU a phase used is its own whatever the
 * other processes took. The database's figure is its backends' (connections to the benchmark's
 * database, this process's and any other), not its shared background processes (WAL writer,
 * checkpointer), which other databases on the server share.
 */
export class CpuMeter {
  constructor(private readonly prisma: PrismaService) {}

  async read(): Promise<Reading> {
    const pids = await this.prisma.$queryRawUnsafe<{ pid: number }[]>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`,
    );
    const backends = new Map<number, number>();
    for (const { pid } of pids) {
      const t = ticksOf(pid);
      if (t !== null) backends.set(pid, t);
    }
    const thread = process.threadCpuUsage();
    const whole = process.cpuUsage();
    return {
      at: performance.now(),
      main: (thread.user + thread.system) / 1e6,
      process: (whole.user + whole.system) / 1e6,
      backends,
      machine: machineBusyTicks() / TICKS,
    };
  }

  /** What was used from `start` to now. */
  async since(start: Reading): Promise<CpuFigures> {
    const end = await this.read();
    let database = 0;
    // a backend that started during the phase counts from zero; one that ended is lost (the pool's stay)
    for (const [pid, ticks] of end.backends) database += (ticks - (start.backends.get(pid) ?? 0)) / TICKS;
    const seconds = (end.at - start.at) / 1000;
    const main = end.main - start.main;
    return {
      main,
      threads: end.process - start.process - main,
      database,
      machineBusy: seconds > 0 ? (end.machine - start.machine) / seconds : 0,
    };
  }
}

/** CPU ms per 1000 operations, as the scenarios print it. */
export function perThousand(seconds: number, operations: number): string {
  return ((seconds * 1000 * 1000) / operations).toFixed(0);
}

/** One line of a phase's CPU per 1000 events: what holds on a loaded machine where rates do not. */
export function printCpu(name: string, c: CpuFigures | undefined, events: number): void {
  if (!c) return;
  const k = (seconds: number) => perThousand(seconds, events);
  console.log(
    `cpu ms per 1000 events, ${name}: service thread ${k(c.main)}, other threads ${k(c.threads)}, ` +
      `database ${k(c.database)}, total ${k(c.main + c.threads + c.database)} (machine busy ${c.machineBusy.toFixed(2)} cores)`,
  );
}
