-- One door to the ledger (issue 15).
--
-- * ledger_record is now the only write to the journal and the balances, for one transaction or
--   a batch: it takes postings (and, for a settlement, the hold it settles) and derives every
--   balance change itself; it checks that each transaction balances per asset and that no
--   floor-zero account goes below zero, and it locks balance rows in the ledger's order (account
--   id, then shard). The callers no longer pass deltas: the old ledger_record and
--   ledger_record_many, which trusted the deltas they were given, are dropped.
-- * A pending transaction stops holding at its expires_at. ledger_open_holds lists the postings
--   of the open holds that expire, so that a balance read subtracts an expired hold at once,
--   and ledger_record releases the expired holds of every floor-zero account it changes (a
--   'hold.expired' void, as the sweeper writes) before it checks the floor; posting a hold past
--   its expiry is refused.
-- * catalogue_redeem moves the money through ledger_record and returns the stored redemption's
--   facts; the answer is rendered by the service (RedemptionDto.of), not built as JSON here.
-- * Idempotent answers are stored as text, byte for byte (jsonb reordered their keys).

-- SQLSTATEs raised by ledger_record:
--   CL001 a floor-zero account would go below zero (DETAIL: the account id)
--   CL002 the postings are not a valid transaction (unbalanced, unknown account, wrong asset, …)
--   CL003 the hold to settle is not an open hold (unknown, not pending, settled, or expired)

ALTER TABLE idempotency_keys ALTER COLUMN response TYPE TEXT USING response::text;
-- an answer not kept as text: the id of the row it is rendered from by the capability that
-- stored it (catalogue_redeem stores the redemption; the service renders it as it was created)
ALTER TABLE idempotency_keys ADD COLUMN answer_ref TEXT;

-- the resident's available points right after the redemption, as its answer said
ALTER TABLE redemptions ADD COLUMN balance_after NUMERIC;

-- The postings of open holds that expire, per balance row: kept by ledger_record (inserted with
-- the hold, deleted by its settlement). Small: only the holds open right now.
CREATE TABLE ledger_open_holds (
  transaction_id  UUID NOT NULL,
  account_id      BIGINT NOT NULL,
  shard           SMALLINT NOT NULL,
  side            CHAR(1) NOT NULL CHECK (side IN ('D', 'C')),
  amount          NUMERIC NOT NULL CHECK (amount > 0),
  expires_at      TIMESTAMPTZ(6) NOT NULL,
  PRIMARY KEY (transaction_id, account_id, shard, side)
);
CREATE INDEX ledger_open_holds_account_idx ON ledger_open_holds (account_id, expires_at);

INSERT INTO ledger_open_holds (transaction_id, account_id, shard, side, amount, expires_at)
SELECT p.transaction_id, p.account_id, p.shard, p.side, sum(p.amount), t.expires_at
FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id
WHERE t.kind = 'pending' AND t.expires_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = t.id)
GROUP BY p.transaction_id, p.account_id, p.shard, p.side, t.expires_at;

DROP FUNCTION ledger_record(UUID, TEXT, TEXT, UUID, UUID, TIMESTAMPTZ, JSONB, TEXT, TIMESTAMPTZ,
  BIGINT[], SMALLINT[], TEXT[], TEXT[], NUMERIC[], BIGINT[], SMALLINT[], NUMERIC[], NUMERIC[], NUMERIC[], NUMERIC[]);
DROP FUNCTION ledger_record_many(UUID[], TEXT[], TEXT[], JSONB[], TEXT[],
  INT[], BIGINT[], SMALLINT[], TEXT[], TEXT[], NUMERIC[], BIGINT[], SMALLINT[], NUMERIC[], NUMERIC[], NUMERIC[], NUMERIC[]);

-- The ledger's one door. Records `t_*` transactions (one, or a batch) with their postings `p_*`
-- (p_tx: the 1-based transaction of each posting), in one statement:
--  1. checks the postings (known account of the posting's asset, D or C, a positive amount), that
--     every transaction balances per asset and has two postings or more (a void: none), and that
--     each settlement names an open hold (a post: before its expiry, postings within the hold's);
--  2. finds the expired open holds of every floor-zero account it will change, to release them;
--  3. picks each posting's balance row (the row the caller names, if any: a write that must
--     reuse a row it already holds, such as a reversal; else the hold's row for a settlement;
--     else one at random for a sharded account) and locks every row it will change in the
--     ledger's order: account, shard;
--  4. derives the balance changes: posted, held (a pending transaction) and released (the holds
--     it settles); a floor-zero row that would end below zero raises CL001 and nothing remains.
--     Within a batch a floor-zero account must move one way only, so that the summed change is
--     checked exactly as each change would be;
--  5. writes the releases of expired holds ('hold.expired' voids), the transactions, their
--     postings (with the running posted balance of single-row accounts) and the open holds.
-- Returns the moment written and the available balance of each floor-zero account it changed.
CREATE FUNCTION ledger_record(
  t_ids UUID[], t_types TEXT[], t_kinds TEXT[], t_pending_ids UUID[], t_reverses_ids UUID[],
  t_expires_at TIMESTAMPTZ[], t_metadata JSONB[], t_descriptions TEXT[], t_effective_at TIMESTAMPTZ[],
  p_tx INT[], p_accounts BIGINT[], p_shards SMALLINT[], p_assets TEXT[], p_sides TEXT[], p_amounts NUMERIC[]
) RETURNS TABLE (created_at TIMESTAMPTZ, floor_accounts BIGINT[], available_after NUMERIC[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_created TIMESTAMPTZ := clock_timestamp();
  v_n INT := coalesce(cardinality(t_ids), 0);
  v_np INT := coalesce(cardinality(p_tx), 0);
  v_problem TEXT;
  v_settles UUID[] := array_remove(t_pending_ids, NULL);
  v_expired UUID[] := '{}';
  v_holds UUID[];
  v_shards SMALLINT[];
  d_accounts BIGINT[];
  d_shards SMALLINT[];
  d_debits NUMERIC[];
  d_credits NUMERIC[];
  d_debits_pending NUMERIC[];
  d_credits_pending NUMERIC[];
  v_expected INT;
  v_updated INT;
  v_after_accounts BIGINT[];
  v_afters NUMERIC[];
  v_availables NUMERIC[];
  v_short BIGINT;
  v_short_needed NUMERIC;
  v_short_available NUMERIC;
BEGIN
  IF v_n = 0 OR cardinality(t_types) <> v_n OR cardinality(t_kinds) <> v_n OR cardinality(t_pending_ids) <> v_n
     OR cardinality(t_reverses_ids) <> v_n OR cardinality(t_expires_at) <> v_n OR cardinality(t_metadata) <> v_n
     OR cardinality(t_descriptions) <> v_n OR cardinality(t_effective_at) <> v_n
     OR coalesce(cardinality(p_accounts), 0) <> v_np OR coalesce(cardinality(p_shards), 0) <> v_np
     OR coalesce(cardinality(p_assets), 0) <> v_np
     OR coalesce(cardinality(p_sides), 0) <> v_np OR coalesce(cardinality(p_amounts), 0) <> v_np THEN
    RAISE EXCEPTION 'ledger_record: arrays of different lengths' USING ERRCODE = 'CL002';
  END IF;

  -- 1. the postings, and each transaction's balance per asset
  SELECT problem INTO v_problem FROM (
    SELECT CASE
      WHEN p.tx IS NULL OR p.tx < 1 OR p.tx > v_n THEN format('posting %s names no transaction of this call', p.n)
      WHEN a.id IS NULL THEN format('posting %s: no ledger account %s', p.n, p.account_id)
      WHEN a.asset IS DISTINCT FROM p.asset THEN format('posting %s: account %s holds %s, not %s', p.n, a.code, a.asset, p.asset)
      WHEN p.shard IS NOT NULL AND (p.shard < 0 OR p.shard >= a.shards) THEN format('posting %s: account %s has no balance row %s', p.n, a.code, p.shard)
      WHEN p.side IS NULL OR p.side NOT IN ('D', 'C') THEN format('posting %s: side must be D or C', p.n)
      WHEN p.amount IS NULL OR p.amount <= 0 THEN format('posting %s: amount must be positive', p.n)
    END AS problem
    FROM unnest(p_tx, p_accounts, p_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
    LEFT JOIN ledger_accounts a ON a.id = p.account_id
  ) x WHERE problem IS NOT NULL LIMIT 1;
  IF v_problem IS NULL THEN
    SELECT problem INTO v_problem FROM (
      SELECT CASE
        WHEN t.kind IS NULL OR t.kind NOT IN ('posted', 'pending', 'void') THEN format('transaction %s: unknown kind %s', t.id, t.kind)
        WHEN t.kind = 'void' AND (t.pending_id IS NULL OR coalesce(c.postings, 0) > 0) THEN format('transaction %s: a void settles a hold and has no postings', t.id)
        WHEN t.kind <> 'void' AND coalesce(c.postings, 0) < 2 THEN format('transaction %s needs at least 2 postings', t.id)
        WHEN t.kind = 'pending' AND t.pending_id IS NOT NULL THEN format('transaction %s: a pending transaction settles nothing', t.id)
        WHEN c.unbalanced IS NOT NULL THEN format('transaction %s is not balanced: %s', t.id, c.unbalanced)
      END AS problem
      FROM unnest(t_ids, t_kinds, t_pending_ids) WITH ORDINALITY AS t(id, kind, pending_id, n)
      LEFT JOIN (
        SELECT s.tx, sum(s.postings)::int AS postings,
               string_agg(CASE WHEN s.net <> 0 THEN format('%s debits and credits differ by %s', s.asset, abs(s.net)) END, '; ') AS unbalanced
        FROM (SELECT p.tx, p.asset, count(*) AS postings, sum(CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) AS net
              FROM unnest(p_tx, p_assets, p_sides, p_amounts) AS p(tx, asset, side, amount) GROUP BY p.tx, p.asset) s
        GROUP BY s.tx
      ) c ON c.tx = t.n
    ) x WHERE problem IS NOT NULL LIMIT 1;
  END IF;
  IF v_problem IS NULL AND v_n > 1 THEN
    SELECT format('a batch cannot both add to and take from %s: record those apart', min(a.code)) INTO v_problem
    FROM unnest(p_accounts, p_sides) AS p(account_id, side) JOIN ledger_accounts a ON a.id = p.account_id
    WHERE a.floor_zero GROUP BY a.id HAVING count(DISTINCT p.side) > 1 LIMIT 1;
  END IF;
  IF v_problem IS NOT NULL THEN
    RAISE EXCEPTION '%', v_problem USING ERRCODE = 'CL002';
  END IF;

  -- the holds settled on request: open (not settled: checked again once their rows are locked),
  -- a post before the expiry and within what the hold reserved
  IF cardinality(v_settles) > 0 THEN
    SELECT problem INTO v_problem FROM (
      SELECT CASE
        WHEN h.id IS NULL THEN format('transaction %s does not exist', t.pending_id)
        WHEN h.kind <> 'pending' THEN format('transaction %s is not pending', t.pending_id)
        WHEN t.kind = 'posted' AND h.expires_at IS NOT NULL AND h.expires_at <= v_created
          THEN format('transaction %s expired at %s', t.pending_id, to_char(h.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        WHEN count(*) OVER (PARTITION BY t.pending_id) > 1 THEN format('transaction %s is settled twice in one call', t.pending_id)
      END AS problem
      FROM unnest(t_kinds, t_pending_ids) AS t(kind, pending_id)
      LEFT JOIN ledger_transactions h ON h.id = t.pending_id
      WHERE t.pending_id IS NOT NULL
    ) x WHERE problem IS NOT NULL LIMIT 1;
    IF v_problem IS NOT NULL THEN
      RAISE EXCEPTION '%', v_problem USING ERRCODE = 'CL003';
    END IF;
    SELECT format('transaction %s posts more to %s than its hold reserved', q.pending_id, q.account_id) INTO v_problem
    FROM (SELECT t.pending_id, p.account_id, p.side, sum(p.amount) AS amount
          FROM unnest(p_tx, p_accounts, p_sides, p_amounts) AS p(tx, account_id, side, amount)
          JOIN unnest(t_pending_ids) WITH ORDINALITY AS t(pending_id, n) ON t.n = p.tx
          WHERE t.pending_id IS NOT NULL GROUP BY 1, 2, 3) q
    LEFT JOIN (SELECT hp.transaction_id, hp.account_id, hp.side, sum(hp.amount) AS amount FROM ledger_postings hp
               WHERE hp.transaction_id = ANY (v_settles) GROUP BY 1, 2, 3) h
      ON h.transaction_id = q.pending_id AND h.account_id = q.account_id AND h.side = q.side
    WHERE h.amount IS NULL OR q.amount > h.amount LIMIT 1;
    IF v_problem IS NOT NULL THEN
      RAISE EXCEPTION '%', v_problem USING ERRCODE = 'CL002';
    END IF;
  END IF;

  -- 2. the expired holds of the floor-zero accounts this call changes: released on the way
  SELECT coalesce(array_agg(DISTINCT h.transaction_id), '{}') INTO v_expired
  FROM ledger_open_holds h
  WHERE h.account_id IN (SELECT a.id FROM ledger_accounts a WHERE a.id = ANY (p_accounts) AND a.floor_zero)
    AND h.expires_at <= v_created AND NOT (h.transaction_id = ANY (v_settles));

  -- 3. each posting's balance row: the one named, a settlement's on the hold's row, else one of the account's
  IF cardinality(v_settles) = 0 THEN
    SELECT array_agg(coalesce(p.shard, r.shard) ORDER BY p.n) INTO v_shards
    FROM unnest(p_accounts, p_shards) WITH ORDINALITY AS p(account_id, shard, n)
    JOIN (SELECT a.id, CASE WHEN a.shards = 1 THEN 0 ELSE floor(random() * a.shards) END::smallint AS shard
          FROM ledger_accounts a WHERE a.id = ANY (p_accounts)) r ON r.id = p.account_id;
  ELSE
    SELECT array_agg(coalesce(p.shard, hs.shard, r.shard) ORDER BY p.n) INTO v_shards
    FROM unnest(p_tx, p_accounts, p_shards) WITH ORDINALITY AS p(tx, account_id, shard, n)
    JOIN (SELECT a.id, CASE WHEN a.shards = 1 THEN 0 ELSE floor(random() * a.shards) END::smallint AS shard
          FROM ledger_accounts a WHERE a.id = ANY (p_accounts)) r ON r.id = p.account_id
    JOIN unnest(t_pending_ids) WITH ORDINALITY AS t(pending_id, n) ON t.n = p.tx
    LEFT JOIN LATERAL (SELECT min(hp.shard) AS shard FROM ledger_postings hp
                       WHERE t.pending_id IS NOT NULL AND hp.transaction_id = t.pending_id AND hp.account_id = p.account_id) hs ON true;
  END IF;
  v_holds := v_settles || v_expired;

  -- every row this call changes, locked in the one order: no two writes ever wait in a cycle
  PERFORM 1 FROM account_balances b
  JOIN (SELECT x.account_id, x.shard FROM unnest(p_accounts, v_shards) AS x(account_id, shard)
        UNION SELECT hp.account_id, hp.shard FROM ledger_postings hp WHERE hp.transaction_id = ANY (v_holds)) r
    ON b.account_id = r.account_id AND b.shard = r.shard
  ORDER BY b.account_id, b.shard
  FOR UPDATE OF b;

  IF cardinality(v_holds) > 0 THEN
    -- settled while this call waited for the rows: a requested one is refused, an expired one
    -- was released by someone else (the sweeper) and is left out
    PERFORM 1 FROM ledger_transactions s WHERE s.pending_id = ANY (v_settles);
    IF FOUND THEN
      RAISE EXCEPTION 'the hold was settled meanwhile' USING ERRCODE = 'CL003';
    END IF;
    SELECT coalesce(array_agg(x.id), '{}') INTO v_expired FROM unnest(v_expired) AS x(id)
    WHERE NOT EXISTS (SELECT 1 FROM ledger_transactions s WHERE s.pending_id = x.id);
    v_holds := v_settles || v_expired;
  END IF;

  -- 4. the balance changes, per row, in the lock order
  WITH e AS (
    SELECT p.account_id, p.shard,
      CASE WHEN t.kind = 'posted' AND p.side = 'D' THEN p.amount ELSE 0 END AS debits,
      CASE WHEN t.kind = 'posted' AND p.side = 'C' THEN p.amount ELSE 0 END AS credits,
      CASE WHEN t.kind = 'pending' AND p.side = 'D' THEN p.amount ELSE 0 END AS debits_pending,
      CASE WHEN t.kind = 'pending' AND p.side = 'C' THEN p.amount ELSE 0 END AS credits_pending
    FROM unnest(p_tx, p_accounts, v_shards, p_sides, p_amounts) AS p(tx, account_id, shard, side, amount)
    JOIN unnest(t_kinds) WITH ORDINALITY AS t(kind, n) ON t.n = p.tx
    UNION ALL
    SELECT hp.account_id, hp.shard, 0, 0,
      CASE WHEN hp.side = 'D' THEN -hp.amount ELSE 0 END, CASE WHEN hp.side = 'C' THEN -hp.amount ELSE 0 END
    FROM ledger_postings hp WHERE hp.transaction_id = ANY (v_holds)
  ), d AS (
    SELECT e.account_id, e.shard, sum(e.debits) AS debits, sum(e.credits) AS credits,
           sum(e.debits_pending) AS debits_pending, sum(e.credits_pending) AS credits_pending
    FROM e GROUP BY e.account_id, e.shard ORDER BY e.account_id, e.shard
  )
  SELECT array_agg(d.account_id), array_agg(d.shard), array_agg(d.debits), array_agg(d.credits),
         array_agg(d.debits_pending), array_agg(d.credits_pending), count(*)
  INTO d_accounts, d_shards, d_debits, d_credits, d_debits_pending, d_credits_pending, v_expected
  FROM d;

  WITH d AS (
    SELECT * FROM unnest(d_accounts, d_shards, d_debits, d_credits, d_debits_pending, d_credits_pending)
      AS d(account_id, shard, debits, credits, debits_pending, credits_pending)
  ), updated AS (
    UPDATE account_balances b SET
      debits_posted = b.debits_posted + d.debits,
      credits_posted = b.credits_posted + d.credits,
      debits_pending = b.debits_pending + d.debits_pending,
      credits_pending = b.credits_pending + d.credits_pending
    FROM d
    WHERE b.account_id = d.account_id AND b.shard = d.shard
      AND (NOT b.floor_zero OR CASE b.normal_side
        WHEN 'C' THEN (b.credits_posted + d.credits) - (b.debits_posted + d.debits) - (b.debits_pending + d.debits_pending)
        ELSE (b.debits_posted + d.debits) - (b.credits_posted + d.credits) - (b.credits_pending + d.credits_pending)
      END >= 0)
    RETURNING b.account_id, b.floor_zero,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted ELSE b.debits_posted - b.credits_posted END AS after,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                         ELSE b.debits_posted - b.credits_posted - b.credits_pending END AS available
  )
  SELECT count(*), coalesce(array_agg(u.account_id) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.after) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.available) FILTER (WHERE u.floor_zero), '{}')
  INTO v_updated, v_after_accounts, v_afters, v_availables
  FROM updated u;
  IF v_updated <> v_expected THEN
    -- which account, and (for the message) what the change needed and what the row had, in its normal direction
    SELECT d.account_id,
           CASE b.normal_side WHEN 'C' THEN d.debits + d.debits_pending - d.credits ELSE d.credits + d.credits_pending - d.debits END,
           CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                              ELSE b.debits_posted - b.credits_posted - b.credits_pending END
      INTO v_short, v_short_needed, v_short_available
    FROM unnest(d_accounts, d_shards, d_debits, d_credits, d_debits_pending, d_credits_pending)
      AS d(account_id, shard, debits, credits, debits_pending, credits_pending)
    JOIN account_balances b ON b.account_id = d.account_id AND b.shard = d.shard
    WHERE b.floor_zero AND CASE b.normal_side
        WHEN 'C' THEN (b.credits_posted + d.credits) - (b.debits_posted + d.debits) - (b.debits_pending + d.debits_pending)
        ELSE (b.debits_posted + d.debits) - (b.credits_posted + d.credits) - (b.credits_pending + d.credits_pending)
      END < 0
    LIMIT 1;
    RAISE EXCEPTION 'insufficient balance on ledger account %', v_short
      USING ERRCODE = 'CL001', DETAIL = coalesce(v_short::text, ''),
            HINT = json_build_object('needed', v_short_needed::text, 'available', v_short_available::text)::text;
  END IF;

  -- 5. the journal: releases of expired holds first, then the transactions, then the postings
  IF cardinality(v_expired) > 0 THEN
    INSERT INTO ledger_transactions (id, type, kind, pending_id, metadata, effective_at, created_at)
    SELECT gen_random_uuid(), 'hold.expired', 'void', x.id, '{}'::jsonb, v_created, v_created
    FROM unnest(v_expired) AS x(id);
  END IF;

  INSERT INTO ledger_transactions AS t
    (id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at)
  SELECT x.id, x.type, x.kind, x.pending_id, x.reverses_id, x.expires_at, coalesce(x.metadata, '{}'::jsonb),
         x.description, coalesce(x.effective_at, v_created), v_created
  FROM unnest(t_ids, t_types, t_kinds, t_pending_ids, t_reverses_ids, t_expires_at, t_metadata, t_descriptions, t_effective_at)
    WITH ORDINALITY AS x(id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, n)
  ORDER BY x.n;

  -- joined, not subscripted: t_ids[p.tx] on a large array would unpack it again for every row
  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT x.id, p.account_id, p.shard, p.asset, p.side, p.amount, x.kind = 'pending',
    CASE WHEN a.account_id IS NULL THEN NULL ELSE a.after - coalesce(sum(
      CASE WHEN x.kind <> 'posted' THEN 0
           WHEN (p.side = 'C') = (acc.normal_side = 'C') THEN p.amount ELSE -p.amount END
    ) OVER (PARTITION BY p.account_id ORDER BY p.n DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END,
    v_created
  FROM unnest(p_tx, p_accounts, v_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
  JOIN unnest(t_ids, t_kinds) WITH ORDINALITY AS x(id, kind, n) ON x.n = p.tx
  JOIN ledger_accounts acc ON acc.id = p.account_id
  LEFT JOIN unnest(v_after_accounts, v_afters) AS a(account_id, after) ON a.account_id = p.account_id
  ORDER BY p.n;

  IF cardinality(v_holds) > 0 THEN
    DELETE FROM ledger_open_holds h WHERE h.transaction_id = ANY (v_holds);
  END IF;
  INSERT INTO ledger_open_holds (transaction_id, account_id, shard, side, amount, expires_at)
  SELECT x.id, p.account_id, p.shard, p.side, sum(p.amount), x.expires_at
  FROM unnest(p_tx, p_accounts, v_shards, p_sides, p_amounts) AS p(tx, account_id, shard, side, amount)
  JOIN unnest(t_ids, t_kinds, t_expires_at) WITH ORDINALITY AS x(id, kind, expires_at, n) ON x.n = p.tx
  WHERE x.kind = 'pending' AND x.expires_at IS NOT NULL
  GROUP BY x.id, p.account_id, p.shard, p.side, x.expires_at;

  RETURN QUERY SELECT v_created, v_after_accounts, v_availables;
END
$$;

-- catalogue_redeem through the ledger's door, answering with the stored redemption's facts (the
-- service renders the answer). The key's row stores status 201 and, instead of a body, the
-- redemption it is rendered from (answer_ref); the same work, order and locks as before.
DROP FUNCTION catalogue_redeem(TEXT, TEXT, TEXT, UUID, UUID, TEXT, BIGINT, TEXT, INT, TEXT[]);
CREATE FUNCTION catalogue_redeem(
  p_scope TEXT, p_key TEXT, p_hash TEXT,
  p_redemption_id UUID, p_transaction_id UUID,
  p_resident_id TEXT, p_resident_account BIGINT,
  p_item_id TEXT, p_quantity INT, p_codes TEXT[]
) RETURNS TABLE (outcome TEXT, request_hash TEXT, status SMALLINT, response TEXT, answer_ref TEXT,
                 kind TEXT, points_spent NUMERIC, balance_after NUMERIC, created_at TIMESTAMPTZ,
                 codes TEXT[], valid_until TIMESTAMPTZ, stock_counted BOOLEAN, limit_counted BOOLEAN)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_item catalogue_items%ROWTYPE;
  v_now TIMESTAMPTZ := date_trunc('milliseconds', now());
  v_count INT;
  v_price NUMERIC;
  v_payee BIGINT;
  v_available NUMERIC;
  v_valid_until TIMESTAMPTZ;
  v_codes TEXT[];
BEGIN
  INSERT INTO idempotency_keys AS k (scope, key, request_hash) VALUES (p_scope, p_key, p_hash)
  ON CONFLICT (scope, key) DO NOTHING;
  IF NOT FOUND THEN
    -- used before (a concurrent first use was waited for): its answer, or a conflict the service names
    RETURN QUERY SELECT 'replay'::text, k.request_hash::text, k.status, k.response, k.answer_ref,
        NULL::text, NULL::numeric, NULL::numeric, NULL::timestamptz, NULL::text[], NULL::timestamptz, NULL::boolean, NULL::boolean
      FROM idempotency_keys k WHERE k.scope = p_scope AND k.key = p_key;
    RETURN;
  END IF;

  SELECT * INTO v_item FROM catalogue_items i WHERE i.id = p_item_id;
  IF NOT FOUND OR v_item.kind = 'DONATION'
     OR (v_item.active_from IS NOT NULL AND v_item.active_from > v_now)
     OR (v_item.active_to IS NOT NULL AND v_now >= v_item.active_to) THEN
    RAISE EXCEPTION 'general path: item' USING ERRCODE = 'CL100';
  END IF;

  IF v_item.per_resident_limit IS NOT NULL THEN
    INSERT INTO resident_item_counts AS c (resident_id, item_id, quantity) VALUES (p_resident_id, p_item_id, p_quantity)
    ON CONFLICT (resident_id, item_id) DO UPDATE SET quantity = c.quantity + EXCLUDED.quantity
    RETURNING c.quantity INTO v_count;
    IF v_count > v_item.per_resident_limit THEN
      RAISE EXCEPTION 'general path: limit' USING ERRCODE = 'CL100';
    END IF;
  END IF;

  v_price := v_item.price_points * p_quantity;
  SELECT a.id INTO v_payee FROM ledger_accounts a WHERE a.code = 'partner:' || v_item.partner_id || ':redeemed' AND a.asset = 'POINTS';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'general path: payee account' USING ERRCODE = 'CL100';
  END IF;
  -- the account the service named is this resident's (a wrong one would spend someone else's points)
  PERFORM 1 FROM ledger_accounts a
    WHERE a.id = p_resident_account AND a.code = 'resident:' || p_resident_id AND a.asset = 'POINTS' AND a.floor_zero;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'general path: resident account' USING ERRCODE = 'CL100';
  END IF;

  -- the money through the ledger's one door (it derives the changes, checks and locks)
  BEGIN
    SELECT r.available_after[array_position(r.floor_accounts, p_resident_account)] INTO v_available FROM ledger_record(
      ARRAY[p_transaction_id], ARRAY['redeem'], ARRAY['posted'], ARRAY[NULL]::uuid[], ARRAY[NULL]::uuid[],
      ARRAY[NULL]::timestamptz[],
      ARRAY[jsonb_build_object('redemptionId', p_redemption_id, 'itemId', p_item_id, 'quantity', p_quantity, 'residentId', p_resident_id)],
      ARRAY[v_item.title || CASE WHEN p_quantity > 1 THEN ' × ' || p_quantity ELSE '' END],
      ARRAY[NULL]::timestamptz[],
      ARRAY[1, 1], ARRAY[p_resident_account, v_payee], ARRAY[NULL, NULL]::smallint[], ARRAY['POINTS', 'POINTS'], ARRAY['D', 'C'],
      ARRAY[v_price, v_price]) r;
  EXCEPTION WHEN SQLSTATE 'CL001' THEN
    RAISE EXCEPTION 'general path: balance' USING ERRCODE = 'CL100';
  END;

  INSERT INTO redemptions (id, resident_id, item_id, kind, quantity, points_spent, status, transaction_id,
                           stock_counted, limit_counted, balance_after, created_at)
  VALUES (p_redemption_id, p_resident_id, p_item_id, v_item.kind, p_quantity, v_price, 'completed', p_transaction_id,
          v_item.stock IS NOT NULL, v_item.per_resident_limit IS NOT NULL, v_available, v_now);

  v_valid_until := CASE WHEN v_item.code_valid_days IS NOT NULL
    THEN v_now + make_interval(secs => v_item.code_valid_days * 86400) END;
  IF v_item.code_source = 'POOL' THEN
    -- rows another redemption is taking are skipped: redemptions of a popular item never queue
    WITH c AS (
      UPDATE item_codes SET status = 'issued', redemption_id = p_redemption_id, valid_until = v_valid_until, issued_at = v_now
      WHERE id IN (
        SELECT id FROM item_codes WHERE item_id = p_item_id AND status = 'available'
        ORDER BY id LIMIT p_quantity FOR UPDATE SKIP LOCKED)
      RETURNING id, code)
    SELECT coalesce(array_agg(c.code ORDER BY c.id), '{}') INTO v_codes FROM c;
  ELSE
    WITH c AS (
      INSERT INTO item_codes (item_id, code, status, redemption_id, valid_until, issued_at)
      SELECT p_item_id, g, 'issued', p_redemption_id, v_valid_until, v_now FROM unnest(p_codes[1:p_quantity]) AS g
      RETURNING id, code)
    SELECT coalesce(array_agg(c.code ORDER BY c.id), '{}') INTO v_codes FROM c;
  END IF;
  IF cardinality(v_codes) < p_quantity THEN
    RAISE EXCEPTION 'general path: codes' USING ERRCODE = 'CL100';
  END IF;

  -- a limited stock is counted last: the item's row stays locked only until the commit that follows
  IF v_item.stock IS NOT NULL THEN
    UPDATE catalogue_items SET sold = sold + p_quantity WHERE id = p_item_id AND sold + p_quantity <= stock;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'general path: stock' USING ERRCODE = 'CL100';
    END IF;
  END IF;

  UPDATE idempotency_keys k SET status = 201, answer_ref = p_redemption_id::text WHERE k.scope = p_scope AND k.key = p_key;
  RETURN QUERY SELECT 'new'::text, p_hash, 201::smallint, NULL::text, p_redemption_id::text,
    v_item.kind, v_price, v_available, v_now, v_codes, v_valid_until, v_item.stock IS NOT NULL, v_item.per_resident_limit IS NOT NULL;
END
$$;

DROP FUNCTION ledger_iso_time(TIMESTAMPTZ);
