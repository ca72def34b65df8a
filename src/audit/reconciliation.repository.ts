import { Injectable } from '@nestjs/common';
import { Prisma } from '../generated/prisma/client';
import { TransactionHost } from '../infra/database/transaction-host';

export interface ReconciliationRow {
  id: string;
  status: string;
  trigger: string;
  requestedBy: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  checks: unknown;
}

/** Memory each of the reconciliation's queries may use to hash and sort (it runs at night). */
const RECONCILE_WORK_MEM = '256MB';

/** Reconciliation runs, and the checks' queries over the journal. */
@Injectable()
export class ReconciliationRepository {
  constructor(private readonly db: TransactionHost) {}

  create(run: { id: string; trigger: string; requestedBy: string | null; scheduledFor: Date | null }): Promise<ReconciliationRow> {
    return this.db.client.reconciliation.create({ data: { ...run, status: 'running' } });
  }

  find(id: string): Promise<ReconciliationRow | null> {
    return this.db.client.reconciliation.findUnique({ where: { id } });
  }

  /** Runs newest first, before a (startedAt, id) position. */
  list(before: { startedAt: Date; id: string } | undefined, take: number): Promise<ReconciliationRow[]> {
    return this.db.client.reconciliation.findMany({
      where: before ? { OR: [{ startedAt: { lt: before.startedAt } }, { startedAt: before.startedAt, id: { lt: before.id } }] } : undefined,
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take,
    });
  }

  finish(id: string, status: 'passed' | 'failed', checks: unknown[]): Promise<ReconciliationRow> {
    return this.db.client.reconciliation.update({
      where: { id },
      data: { status, checks: checks as Prisma.InputJsonValue, finishedAt: new Date() },
    });
  }

  /**
   * The first `shown` offences a check's query finds (of each check, `byCheck`, for a pass that
   * several share), in a transaction of its own with room to hash and sort the journal in memory
   * (RECONCILE_WORK_MEM) and PostgreSQL's parallel workers and JIT off.
   */
  offences<Row extends { what: string }>(sql: Prisma.Sql, byCheck: boolean, shown: number): Promise<Row[]> {
    return this.db.run(
      async () => {
        const tx = this.db.client;
        await tx.$executeRawUnsafe(`SET LOCAL work_mem = '${RECONCILE_WORK_MEM}'`);
        // the checks already run side by side on every core: PostgreSQL's own workers would only
        // build the same hash tables again; and the journal re-hash must not have them at all
        // (it relies on rows reaching string_agg in the order a subquery sorted them)
        await tx.$executeRawUnsafe('SET LOCAL max_parallel_workers_per_gather = 0');
        // nor JIT: compiling each part's expressions (inlined and optimised, since the plans are
        // costly) took longer than it saved (a part of the journal pass: 9.2-10.0 s without, 9.8-11.0 s with)
        await tx.$executeRawUnsafe('SET LOCAL jit = off');
        return tx.$queryRaw<Row[]>(
          byCheck
            ? // rows of a shared pass: the first few of each check
              Prisma.sql`WITH offences AS MATERIALIZED (${sql})
                SELECT "check", what FROM (SELECT "check", what, row_number() OVER (PARTITION BY "check") AS n FROM offences) o
                WHERE n <= ${shown}`
            : Prisma.sql`WITH offences AS MATERIALIZED (${sql}) SELECT what FROM offences LIMIT ${shown}`,
        );
      },
      { timeout: 60 * 60_000, maxWait: 10 * 60_000 },
    );
  }
}
