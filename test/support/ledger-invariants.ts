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

  violations.push(...(await lotViolations(prisma)));
  return violations;
}

/**
 * The lots (points expiry) agree with the journal:
 * - every lot's remaining is its amount less what its moves took (plus what they gave back);
 * - every resident account's lots, with what its open holds took from them, sum to its posted balance;
 * - every debit of a resident account (posted or held; not a settlement) took exactly its amount from lots;
 * - every resident account's next_expiry is the soonest expiry of its open lots.
 */
export async function lotViolations(prisma: PrismaService): Promise<string[]> {
  const violations: string[] = [];
  const lots = await prisma.$queryRawUnsafe<{ id: string }[]>(`
    SELECT l.id::text FROM ledger_lots l LEFT JOIN (SELECT lot_id, sum(amount) AS moved FROM ledger_lot_moves GROUP BY lot_id) m ON m.lot_id = l.id
    WHERE l.remaining <> l.amount - coalesce(m.moved, 0)`);
  for (const row of lots) violations.push(`lot ${row.id}: remaining differs from its moves`);

  const accounts = await prisma.$queryRawUnsafe<{ code: string; posted: string; lots: string }[]>(`
    WITH lots AS (SELECT account_id, sum(remaining) AS remaining FROM ledger_lots GROUP BY account_id),
    held AS (
      SELECT l.account_id, sum(m.amount) AS amount FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id
      JOIN ledger_transactions t ON t.id = m.transaction_id AND t.kind = 'pending'
      WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
      GROUP BY l.account_id)
    SELECT a.code, (b.credits_posted - b.debits_posted)::text AS posted, (coalesce(lots.remaining, 0) + coalesce(held.amount, 0))::text AS lots
    FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id
    LEFT JOIN lots ON lots.account_id = a.id LEFT JOIN held ON held.account_id = a.id
    WHERE a.keeps_lots AND b.credits_posted - b.debits_posted <> coalesce(lots.remaining, 0) + coalesce(held.amount, 0)`);
  for (const row of accounts) violations.push(`${row.code}: posted ${row.posted} but its lots hold ${row.lots}`);

  const spends = await prisma.$queryRawUnsafe<{ transaction_id: string }[]>(`
    WITH debits AS (
      SELECT p.transaction_id, p.account_id, sum(p.amount) AS amount FROM ledger_postings p
      JOIN ledger_accounts a ON a.id = p.account_id AND a.keeps_lots
      JOIN ledger_transactions t ON t.id = p.transaction_id AND t.pending_id IS NULL
      WHERE p.side = 'D' GROUP BY 1, 2),
    taken AS (
      SELECT m.transaction_id, l.account_id, sum(m.amount) FILTER (WHERE m.amount > 0) AS amount
      FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id GROUP BY 1, 2)
    SELECT DISTINCT coalesce(d.transaction_id, k.transaction_id)::text AS transaction_id
    FROM debits d FULL JOIN (SELECT * FROM taken WHERE amount IS NOT NULL) k ON k.transaction_id = d.transaction_id AND k.account_id = d.account_id
    WHERE d.amount IS DISTINCT FROM k.amount`);
  for (const row of spends) violations.push(`transaction ${row.transaction_id}: its lot moves differ from its debits`);

  const next = await prisma.$queryRawUnsafe<{ code: string }[]>(`
    SELECT a.code FROM ledger_accounts a JOIN account_balances b ON b.account_id = a.id
    WHERE a.keeps_lots AND b.next_expiry IS DISTINCT FROM (SELECT min(l.expires_at) FROM ledger_lots l WHERE l.account_id = a.id AND l.remaining > 0)`);
  for (const row of next) violations.push(`${row.code}: next_expiry differs from its open lots`);
  return violations;
}
