import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Interval, Timeout } from '@nestjs/schedule';
import { Gauge } from 'prom-client';
import { MetricsService } from '../infra/metrics/metrics.service';
import { ScheduleLeases } from '../infra/schedule/schedule-leases';
import { JournalPartition, JournalPartitionsRepository } from './journal-partitions.repository';

/** Months made ahead of the current one (the migration made as many). */
export const PARTITION_MONTHS_AHEAD = 3;
export const PARTITIONS_INTERVAL_MS = 6 * 3_600_000;
/** How long making a month waits for its lock before it gives up until the next firing. */
const LOCK_TIMEOUT_MS = 5_000;
/** At start, once the process has settled (an API-only process removes its schedules before). */
const AT_START_MS = 5_000;

/**
 * Keeps the journal's monthly partitions made ahead: the current month and three more, at start
 * and every six hours, by the one process holding the job's lease (ScheduleLeases). Two processes
 * running it at once would do no harm: a month that exists is left alone, and attaching one is
 * DDL that the second waits for. Without a partition for the moment of a write, the write would
 * be refused (there is no DEFAULT partition, see the migration), so `civic_ledger_partitions_months_ahead`
 * says how many months are ready beyond the current one: alert below 2.
 */
@Injectable()
export class JournalPartitionsJob implements OnModuleInit {
  private readonly logger = new Logger('JournalPartitions');
  private running = false;

  constructor(
    private readonly repository: JournalPartitionsRepository,
    private readonly leases: ScheduleLeases,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const repository = this.repository;
    new Gauge({
      name: 'civic_ledger_partitions_months_ahead',
      help: 'Months with journal partitions ready beyond the current one (the least over the journal tables; -1: none for the current month)',
      registers: [this.metrics.registry],
      async collect() {
        const partitions = await repository.list().catch(() => null);
        if (partitions) this.set(monthsAhead(partitions));
      },
    });
  }

  @Timeout('ledger-partitions-start', AT_START_MS)
  atStart(): Promise<void> {
    return this.keep();
  }

  @Interval('ledger-partitions', PARTITIONS_INTERVAL_MS)
  async keep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.leases.exclusive('ledger-partitions', 3 * PARTITIONS_INTERVAL_MS, async () => {
        const made = await this.repository.ensure(PARTITION_MONTHS_AHEAD, LOCK_TIMEOUT_MS);
        if (made.length > 0) this.logger.log(`journal partitions made: ${made.join(', ')}`);
      });
    } catch (error) {
      this.logger.error(`making the journal's partitions ahead failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}

/**
 * How many whole months after the current one (UTC) every journal table has partitions for,
 * without a gap: the least over the tables, -1 when a table has none for the current month.
 */
export function monthsAhead(partitions: JournalPartition[], now = new Date()): number {
  const tables = new Map<string, Set<number>>();
  for (const p of partitions) {
    if (!tables.has(p.table)) tables.set(p.table, new Set());
    tables.get(p.table)!.add(p.from.getTime());
  }
  if (tables.size === 0) return -1;
  let least = Infinity;
  for (const starts of tables.values()) {
    let month = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    let ahead = -1;
    while (starts.has(month)) {
      ahead++;
      const d = new Date(month);
      month = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
    least = Math.min(least, ahead);
  }
  return least;
}
