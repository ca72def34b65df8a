import { Client } from 'pg';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { waitFor } from './wait';

/**
 * Until a session of this database waits for a lock that `holder`'s session holds (one running a
 * statement LIKE `query`, when given): the moment a test holding a row knows the call it is
 * testing has reached it.
 */
export async function waitUntilBlockedBy(prisma: PrismaService, holder: Client, what: string, query = '%'): Promise<void> {
  const pid = backendPid(holder);
  await waitFor(
    async () =>
      (
        await prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND ${pid}::int = ANY (pg_blocking_pids(pid)) AND query LIKE ${query}`
      )[0].n > 0n,
    10_000,
    what,
  );
}

/** The pid of `client`'s server process (pg's Client type does not declare the one it reads at connect). */
export function backendPid(client: Client): number {
  return (client as unknown as { processID: number }).processID;
}
