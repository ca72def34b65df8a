import { PrismaService } from '../../src/infra/database/prisma.service';

/**
 * The books' invariants, computed independently of the service's own code from the journal:
 * - every asset's posted debits equal its posted credits;
 * - every transaction is balanced per asset;
 * - every stored balance row equals the sum of the postings that changed it;
 * - no account that may not go negative has a negative available balance.
 * Returns the violations found (empty when the books hold).
 */
export async function ledgerViolations(prisma: PrismaService): Promise<string[]> {
  const violations: string[] = [];

  // coalesce: an asset with postings on one side only has a NULL sum on the other, and a NULL
  // difference must not read as zero
  const trial = await prisma.$queryRawUnsafe<{ asset: string; diff: string }[]>(`
    SELECT asset, (coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) - coalesce(sum(amount) FILTER (WHERE side = 'C'), 0))::text AS diff
    FROM ledger_postings WHERE NOT pending GROUP BY asset
    HAVING coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) <> coalesce(sum(amount) FILTER (WHERE side = 'C'), 0)`);
  for (const row of trial) violations.push(`trial balance of ${row.asset} off by ${row.diff}`);

  const unbalanced = await prisma.$queryRawUnsafe<{ transaction_id: string }[]>(`
    SELECT transaction_id::text FROM ledger_postings
    GROUP BY transaction_id, asset
    HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) <> 0`);
  for (const row of unbalanced) violations.push(`transaction ${row.transaction_id} is not balanced`);

  const drift = await prisma.$queryRawUnsafe<{ account_id: string; shard: number }[]>(`
    WITH sums AS (
      SELECT p.account_id, p.shard,
        coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'D'), 0) AS d,
        coalesce(sum(p.amount) FILTER (WHERE NOT p.pending AND p.side = 'C'), 0) AS c,
        coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'D' AND s.id IS NULL), 0) AS pd,
        coalesce(sum(p.amount) FILTER (WHERE p.pending AND p.side = 'C' AND s.id IS NULL), 0) AS pc
      FROM ledger_postings p
      LEFT JOIN ledger_transactions s ON p.pending AND s.pending_id = p.transaction_id
      GROUP BY p.account_id, p.shard
    )
    SELECT coalesce(b.account_id, sums.account_id)::text AS account_id, coalesce(b.shard, sums.shard) AS shard
    FROM account_balances b FULL JOIN sums ON sums.account_id = b.account_id AND sums.shard = b.shard
    WHERE coalesce(b.debits_posted, 0) <> coalesce(sums.d, 0) OR coalesce(b.credits_posted, 0) <> coalesce(sums.c, 0)
       OR coalesce(b.debits_pending, 0) <> coalesce(sums.pd, 0) OR coalesce(b.credits_pending, 0) <> coalesce(sums.pc, 0)`);
  for (const row of drift) violations.push(`balance of account ${row.account_id} shard ${row.shard} differs from its postings`);

  const negative = await prisma.$queryRawUnsafe<{ code: string }[]>(`
    SELECT a.code FROM account_balances b JOIN ledger_accounts a ON a.id = b.account_id
    WHERE b.floor_zero AND CASE b.normal_side
      WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
      ELSE b.debits_posted - b.credits_posted - b.credits_pending END < 0`);
  for (const row of negative) violations.push(`${row.code} is below zero`);

  const historyNegative = await prisma.$queryRawUnsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM ledger_postings WHERE balance_after < 0`,
  );
  if (historyNegative[0].n > 0) violations.push(`${historyNegative[0].n} postings left a floor-zero account below zero`);

  // the open holds that expire are exactly the unsettled pending transactions with an expiry
  const holds = await prisma.$queryRawUnsafe<{ transaction_id: string }[]>(`
    WITH expected AS (
      SELECT p.transaction_id, p.account_id, p.shard, p.side, sum(p.amount) AS amount
      FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
      WHERE t.kind = 'pending' AND t.expires_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
      GROUP BY p.transaction_id, p.account_id, p.shard, p.side
    )
    SELECT DISTINCT coalesce(e.transaction_id, h.transaction_id)::text AS transaction_id
    FROM expected e FULL JOIN ledger_open_holds h
      ON h.transaction_id = e.transaction_id AND h.account_id = e.account_id AND h.shard = e.shard AND h.side = e.side
    WHERE e.amount IS DISTINCT FROM h.amount`);
  for (const row of holds) violations.push(`open hold ${row.transaction_id} differs from ledger_open_holds`);

  return violations;
}
