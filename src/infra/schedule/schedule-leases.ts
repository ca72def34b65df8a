import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host';
import { PROCESS_IDENTITY } from './process-identity';

/**
 * Scheduled work that runs once across every process and machine: a job's lease is a row that
 * names the process running it and when the lease runs out. Each firing of the job's schedule
 * renews the lease of the process that holds it, or takes a lease that ran out (its process
 * died, or stopped and gave it back); the firings of every other process do nothing. A stopping
 * process gives its leases back, so that the next firing elsewhere takes over at once.
 *
 * Leases choose who runs a job; they are not what makes it safe. The jobs stay correct if two
 * processes ever ran them at once (a lease that ran out under a stalled process): each claims its
 * rows with row locks or unique keys.
 */
@Injectable()
export class ScheduleLeases implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ScheduleLeases');
  private readonly held = new Set<string>();

  constructor(
    private readonly db: TransactionHost,
    @Inject(PROCESS_IDENTITY) private readonly me: string,
  ) {}

  /**
   * Whether this process runs `name` now: true when it holds the lease (renewed for `ttlMs`, which
   * must be longer than the time between two firings) or has just taken it over.
   */
  async hold(name: string, ttlMs: number): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<{ holder: string }[]>`
      INSERT INTO schedule_leases AS l (name, holder, expires_at)
      VALUES (${name}, ${this.me}, now() + make_interval(secs => ${ttlMs / 1000}))
      ON CONFLICT (name) DO UPDATE SET
        holder = EXCLUDED.holder,
        expires_at = EXCLUDED.expires_at,
        acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END
      WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
      RETURNING l.holder`;
    const holds = rows.length === 1;
    if (holds && !this.held.has(name)) {
      this.held.add(name);
      this.logger.log(`${name}: this process runs it now (${this.me})`);
    } else if (!holds) {
      this.held.delete(name);
    }
    return holds;
  }

  /** Runs `work` if this process holds `name`'s lease; a firing elsewhere does nothing. */
  async exclusive(name: string, ttlMs: number, work: () => Promise<unknown>): Promise<boolean> {
    let holds: boolean;
    try {
      holds = await this.hold(name, ttlMs);
    } catch (error) {
      this.logger.warn(`${name}: the lease could not be read (${(error as Error).message}); skipped this time`);
      return false;
    }
    if (holds) await work();
    return holds;
  }

  /** Gives back every lease this process holds (shutdown: another process takes over at its next firing). */
  async release(): Promise<void> {
    if (this.held.size === 0) return;
    const names = [...this.held];
    this.held.clear();
    await this.db.client.$executeRaw`DELETE FROM schedule_leases WHERE holder = ${this.me} AND name = ANY (${names})`;
  }

  // before the database's pool closes (which is an onApplicationShutdown hook)
  async beforeApplicationShutdown(): Promise<void> {
    await this.release().catch((error: Error) => this.logger.warn(`leases not given back: ${error.message}; they run out by themselves`));
  }
}
