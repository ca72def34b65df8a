-- The ledger's door writes a call's transactions and its credits' lots before it locks the balance
-- rows, when the call settles, releases, expires and reverses nothing (issue 15). Under earn
-- ingest every batch holds the same residents' rows from its lock step to its commit, and the
-- next batch waits for them: what the door does in that time is what the batches queue for. The
-- transactions and the lots need no lock (they follow from the call's arguments alone, and no one
-- sees them before the commit), so the rows are now held for the balance changes and the postings
-- alone. The two writes move into two functions of the door's own (below), which it calls at one
-- place or the other. Everything else is the door of 20261210100000_door_call_bound, statement for
-- statement.

-- The door's own two writes of a call's journal rows and of its credits' lots, each made at one of
-- two places of the door (before the balance rows are locked, or under the locks: see ledger_record
-- below). Nothing but the door calls them; they check nothing, the door has.
CREATE FUNCTION ledger_record_lots(
  t_ids UUID[], t_kinds TEXT[], t_credit_expires_at TIMESTAMPTZ[],
  p_tx INT[], p_accounts BIGINT[], p_sides TEXT[], p_amounts NUMERIC[],
  p_lot_credited BIGINT[], p_n INT, p_k INT, p_gave_back BOOLEAN, p_each_once BOOLEAN, p_created TIMESTAMPTZ
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- (c) every posted credit of a resident account makes a lot (a reversal's credit: only what it
  --     did not give back above); its expiry is the transaction's t_credit_expires_at. (Only the
  --     caller's transactions: the expiries just added credit no resident.)
  IF cardinality(p_lot_credited) = 0 THEN
    NULL;  -- no posting credits a resident account
  ELSIF p_n > p_k AND (p_gave_back OR p_n > 1) THEN
  -- (a batch, or a credit that gave back: one statement for all. A batch keeps this statement's
  -- plan even when nothing was given back: without the give-back join, the generic plan joined
  -- the postings to the transactions in a nested loop, 2,000 x 1,000 comparisons a chunk of an
  -- award, half a second each)
  INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at, created_at)
  SELECT c.account_id, c.id, c.amount - coalesce(g.amount, 0), c.amount - coalesce(g.amount, 0), c.credit_expires_at, p_created
  FROM (SELECT t.id, t.credit_expires_at, p.account_id, sum(p.amount) AS amount, min(p.n) AS n
        FROM unnest(p_tx, p_accounts, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, side, amount, n)
        JOIN unnest(t_ids, t_kinds, t_credit_expires_at) WITH ORDINALITY AS t(id, kind, credit_expires_at, n) ON t.n = p.tx
        CROSS JOIN LATERAL (SELECT a.keeps_lots FROM ledger_accounts a WHERE a.id = p.account_id OFFSET 0) a
        WHERE t.kind = 'posted' AND p.side = 'C' AND a.keeps_lots
        GROUP BY t.id, t.credit_expires_at, p.account_id) c
  LEFT JOIN (SELECT m.transaction_id, l.account_id, -sum(m.amount) AS amount
             FROM unnest(t_ids) AS x(id) JOIN ledger_lot_moves m ON m.transaction_id = x.id JOIN ledger_lots l ON l.id = m.lot_id
             WHERE p_gave_back GROUP BY 1, 2) g
    ON g.transaction_id = c.id AND g.account_id = c.account_id
  WHERE c.amount - coalesce(g.amount, 0) > 0
  ORDER BY c.n;
  ELSIF p_n = 1 AND p_k = 0 AND p_each_once THEN
  -- (one transaction, nothing given back, each resident account posted to once: each credit is a lot)
  INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at, created_at)
  SELECT p.account_id, t_ids[1], p.amount, p.amount, t_credit_expires_at[1], p_created
  FROM unnest(p_accounts, p_sides, p_amounts) WITH ORDINALITY AS p(account_id, side, amount, n)
  WHERE t_kinds[1] = 'posted' AND p.side = 'C' AND p.account_id = ANY (p_lot_credited)
  ORDER BY p.n;
  ELSIF p_n = 1 AND p_k = 0 THEN
  -- (one transaction, nothing given back: each credit's lot is the whole credit)
  INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at, created_at)
  SELECT p.account_id, t_ids[1], sum(p.amount), sum(p.amount), t_credit_expires_at[1], p_created
  FROM unnest(p_accounts, p_sides, p_amounts) WITH ORDINALITY AS p(account_id, side, amount, n)
  WHERE t_kinds[1] = 'posted' AND p.side = 'C' AND p.account_id = ANY (p_lot_credited)
  GROUP BY p.account_id ORDER BY min(p.n);
  END IF;
END
$$;

CREATE FUNCTION ledger_record_transactions(
  t_ids UUID[], t_types TEXT[], t_kinds TEXT[], t_pending_ids UUID[], t_reverses_ids UUID[],
  t_expires_at TIMESTAMPTZ[], t_metadata JSONB[], t_descriptions TEXT[], t_effective_at TIMESTAMPTZ[], p_created TIMESTAMPTZ
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(t_ids) = 1 THEN
  -- (one transaction: its values as given, without unpacking the arrays)
  INSERT INTO ledger_transactions AS t
    (id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at)
  VALUES (t_ids[1], t_types[1], t_kinds[1], t_pending_ids[1], t_reverses_ids[1], t_expires_at[1], coalesce(t_metadata[1], '{}'::jsonb),
          t_descriptions[1], coalesce(t_effective_at[1], p_created), p_created);
  ELSE
  INSERT INTO ledger_transactions AS t
    (id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at)
  SELECT x.id, x.type, x.kind, x.pending_id, x.reverses_id, x.expires_at, coalesce(x.metadata, '{}'::jsonb),
         x.description, coalesce(x.effective_at, p_created), p_created
  FROM unnest(t_ids, t_types, t_kinds, t_pending_ids, t_reverses_ids, t_expires_at, t_metadata, t_descriptions, t_effective_at)
    WITH ORDINALITY AS x(id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, n)
  ORDER BY x.n;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION ledger_record(
  t_ids UUID[], t_types TEXT[], t_kinds TEXT[], t_pending_ids UUID[], t_reverses_ids UUID[],
  t_expires_at TIMESTAMPTZ[], t_metadata JSONB[], t_descriptions TEXT[], t_effective_at TIMESTAMPTZ[],
  t_credit_expires_at TIMESTAMPTZ[],
  p_tx INT[], p_accounts BIGINT[], p_shards SMALLINT[], p_assets TEXT[], p_sides TEXT[], p_amounts NUMERIC[],
  x_expire_accounts BIGINT[]
) RETURNS TABLE (created_at TIMESTAMPTZ, floor_accounts BIGINT[], available_after NUMERIC[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
DECLARE
  v_created TIMESTAMPTZ := clock_timestamp();
  v_n INT := coalesce(cardinality(t_ids), 0);
  v_np INT := coalesce(cardinality(p_tx), 0);
  v_problem TEXT;
  v_settles UUID[] := coalesce(array_remove(t_pending_ids, NULL), '{}');
  v_expired UUID[] := '{}';
  v_expired_voids UUID[] := '{}';
  v_holds UUID[];
  v_shards SMALLINT[];
  v_lot_debited BIGINT[];
  v_sharded BIGINT[];
  v_free BIGINT[] := '{}';
  v_picked SMALLINT[];
  v_i INT;
  v_expiring BIGINT[] := '{}';
  v_expired_account BIGINT;
  v_expired_shard SMALLINT;
  x_tx UUID[];
  x_accounts BIGINT[];
  x_amounts NUMERIC[];
  x_lots INT[];
  v_shards_x SMALLINT[];
  v_sides_x TEXT[];
  v_k INT := 0;
  v_take RECORD;
  v_taken NUMERIC;
  v_short_lots BIGINT;
  d_accounts BIGINT[];
  d_shards SMALLINT[];
  d_debits NUMERIC[];
  d_credits NUMERIC[];
  d_debits_pending NUMERIC[];
  d_credits_pending NUMERIC[];
  v_expected INT;
  v_updated INT;
  v_after_accounts BIGINT[];
  v_after_credit_normal BOOLEAN[];
  v_afters NUMERIC[];
  v_availables NUMERIC[];
  v_short BIGINT;
  v_short_needed NUMERIC;
  v_short_available NUMERIC;
  v_gave_back BOOLEAN;
  v_floor BIGINT[];
  v_lot_credited BIGINT[];
  v_floor_postings INT;
  v_unbalanced TEXT;
  v_draw BIGINT := floor(random() * 1000000000)::bigint;
  v_early BOOLEAN;
BEGIN
  x_expire_accounts := coalesce(x_expire_accounts, '{}');
  -- a batch (earn ingest's, a chunk of the expiry run) is planned for its size, as before: its
  -- statements' custom plans cost little beside their work, and fit thousands of rows better
  IF v_np + cardinality(x_expire_accounts) > 64 THEN
    PERFORM set_config('plan_cache_mode', 'auto', true), set_config('enable_seqscan', 'on', true);
  END IF;
  IF (v_n = 0 AND cardinality(x_expire_accounts) = 0) OR coalesce(cardinality(t_types), 0) <> v_n
     OR coalesce(cardinality(t_kinds), 0) <> v_n OR coalesce(cardinality(t_pending_ids), 0) <> v_n
     OR coalesce(cardinality(t_reverses_ids), 0) <> v_n OR coalesce(cardinality(t_expires_at), 0) <> v_n
     OR coalesce(cardinality(t_metadata), 0) <> v_n OR coalesce(cardinality(t_descriptions), 0) <> v_n
     OR coalesce(cardinality(t_effective_at), 0) <> v_n OR coalesce(cardinality(t_credit_expires_at), 0) <> v_n
     OR coalesce(cardinality(p_accounts), 0) <> v_np OR coalesce(cardinality(p_shards), 0) <> v_np
     OR coalesce(cardinality(p_assets), 0) <> v_np
     OR coalesce(cardinality(p_sides), 0) <> v_np OR coalesce(cardinality(p_amounts), 0) <> v_np THEN
    RAISE EXCEPTION 'ledger_record: arrays of different lengths' USING ERRCODE = 'CL002';
  END IF;
  IF v_n = 0 THEN
    t_ids := '{}'; t_types := '{}'; t_kinds := '{}'; t_pending_ids := '{}'; t_reverses_ids := '{}'; t_expires_at := '{}';
    t_metadata := '{}'; t_descriptions := '{}'; t_effective_at := '{}'; t_credit_expires_at := '{}';
  END IF;
  IF v_np = 0 THEN
    p_tx := '{}'; p_accounts := '{}'; p_shards := '{}'; p_assets := '{}'; p_sides := '{}'; p_amounts := '{}';
  END IF;

  -- 1. the postings, and each transaction's balance per asset. One transaction: its checks, and the
  -- accounts' pass and the expired holds below, in one statement over the postings and their
  -- accounts (what it finds beside a problem is not used: the call is refused)
  IF v_n = 1 THEN
    WITH p AS (
      SELECT p.tx, p.account_id, p.shard, p.asset, p.side, p.amount, p.n,
             a.id AS found, a.code, a.asset AS account_asset, a.shards, a.keeps_lots, a.floor_zero
      FROM unnest(p_tx, p_accounts, p_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
      LEFT JOIN LATERAL (SELECT a.id, a.code, a.asset, a.shards, a.keeps_lots, a.floor_zero FROM ledger_accounts a
                         WHERE a.id = p.account_id OFFSET 0) a ON true
    )
    SELECT
      (SELECT y.problem FROM (
        SELECT CASE
          WHEN p.tx IS NULL OR p.tx < 1 OR p.tx > v_n THEN format('posting %s names no transaction of this call', p.n)
          WHEN p.found IS NULL THEN format('posting %s: no ledger account %s', p.n, p.account_id)
          WHEN p.account_asset IS DISTINCT FROM p.asset THEN format('posting %s: account %s holds %s, not %s', p.n, p.code, p.account_asset, p.asset)
          WHEN p.shard IS NOT NULL AND (p.shard < 0 OR p.shard >= p.shards) THEN format('posting %s: account %s has no balance row %s', p.n, p.code, p.shard)
          WHEN p.side IS NULL OR p.side NOT IN ('D', 'C') THEN format('posting %s: side must be D or C', p.n)
          WHEN p.amount IS NULL OR p.amount <= 0 THEN format('posting %s: amount must be positive', p.n)
        END AS problem FROM p) y WHERE y.problem IS NOT NULL LIMIT 1),
      (SELECT string_agg(format('%s debits and credits differ by %s', s.asset, abs(s.net)), '; ')
       FROM (SELECT p.asset, sum(CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) AS net
             FROM p GROUP BY p.asset ORDER BY p.asset) s
       WHERE s.net <> 0),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.keeps_lots AND p.side = 'D'), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.keeps_lots AND p.side = 'C'), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.shards > 1), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.floor_zero), '{}'),
      coalesce(array_agg(coalesce(p.shard, ((v_draw + p.account_id) % p.shards)::smallint) ORDER BY p.n), '{}'),
      count(*) FILTER (WHERE p.floor_zero),
      (SELECT coalesce(array_agg(DISTINCT h.transaction_id), '{}')
       FROM (SELECT DISTINCT p.account_id FROM p WHERE p.floor_zero) f JOIN ledger_open_holds h ON h.account_id = f.account_id
       WHERE h.expires_at <= v_created AND NOT (h.transaction_id = ANY (v_settles)))
    INTO v_problem, v_unbalanced, v_lot_debited, v_lot_credited, v_sharded, v_floor, v_shards, v_floor_postings, v_expired
    FROM p;
    v_problem := coalesce(v_problem, CASE
        WHEN t_kinds[1] IS NULL OR t_kinds[1] NOT IN ('posted', 'pending', 'void') THEN format('transaction %s: unknown kind %s', t_ids[1], t_kinds[1])
        WHEN t_kinds[1] = 'void' AND (t_pending_ids[1] IS NULL OR v_np > 0) THEN format('transaction %s: a void settles a hold and has no postings', t_ids[1])
        WHEN t_kinds[1] <> 'void' AND v_np < 2 THEN format('transaction %s needs at least 2 postings', t_ids[1])
        WHEN t_kinds[1] = 'pending' AND t_pending_ids[1] IS NOT NULL THEN format('transaction %s: a pending transaction settles nothing', t_ids[1])
        WHEN t_types[1] = 'expiry' THEN format('transaction %s: expiries are recorded by the ledger itself', t_ids[1])
        WHEN t_credit_expires_at[1] IS NOT NULL AND t_kinds[1] <> 'posted' THEN format('transaction %s: only a posted credit has an expiry', t_ids[1])
        WHEN v_unbalanced IS NOT NULL THEN format('transaction %s is not balanced: %s', t_ids[1], v_unbalanced)
      END);
  ELSE
    -- A batch (or a call that only expires lots): the same, in one statement over its postings
    -- and their accounts, each posting's account looked up once for all the checks and the
    -- accounts' pass; the transactions' checks read the postings' sums per transaction and asset
    -- from the same rows (each check's problem is used only if the ones before it found none).
    WITH p AS (
      SELECT p.tx, p.account_id, p.shard, p.asset, p.side, p.amount, p.n,
             a.id AS found, a.code, a.asset AS account_asset, a.shards, a.keeps_lots, a.floor_zero
      FROM unnest(p_tx, p_accounts, p_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
      LEFT JOIN LATERAL (SELECT a.id, a.code, a.asset, a.shards, a.keeps_lots, a.floor_zero FROM ledger_accounts a
                         WHERE a.id = p.account_id OFFSET 0) a ON true
    )
    SELECT
      coalesce(
        (SELECT y.problem FROM (
          SELECT p.n, CASE
            WHEN p.tx IS NULL OR p.tx < 1 OR p.tx > v_n THEN format('posting %s names no transaction of this call', p.n)
            WHEN p.found IS NULL THEN format('posting %s: no ledger account %s', p.n, p.account_id)
            WHEN p.account_asset IS DISTINCT FROM p.asset THEN format('posting %s: account %s holds %s, not %s', p.n, p.code, p.account_asset, p.asset)
            WHEN p.shard IS NOT NULL AND (p.shard < 0 OR p.shard >= p.shards) THEN format('posting %s: account %s has no balance row %s', p.n, p.code, p.shard)
            WHEN p.side IS NULL OR p.side NOT IN ('D', 'C') THEN format('posting %s: side must be D or C', p.n)
            WHEN p.amount IS NULL OR p.amount <= 0 THEN format('posting %s: amount must be positive', p.n)
          END AS problem FROM p) y WHERE y.problem IS NOT NULL ORDER BY y.n LIMIT 1),
        (SELECT y.problem FROM (
          SELECT t.n, CASE
            WHEN t.kind IS NULL OR t.kind NOT IN ('posted', 'pending', 'void') THEN format('transaction %s: unknown kind %s', t.id, t.kind)
            WHEN t.kind = 'void' AND (t.pending_id IS NULL OR coalesce(c.postings, 0) > 0) THEN format('transaction %s: a void settles a hold and has no postings', t.id)
            WHEN t.kind <> 'void' AND coalesce(c.postings, 0) < 2 THEN format('transaction %s needs at least 2 postings', t.id)
            WHEN t.kind = 'pending' AND t.pending_id IS NOT NULL THEN format('transaction %s: a pending transaction settles nothing', t.id)
            WHEN t.type = 'expiry' THEN format('transaction %s: expiries are recorded by the ledger itself', t.id)
            WHEN t.credit_expires_at IS NOT NULL AND t.kind <> 'posted' THEN format('transaction %s: only a posted credit has an expiry', t.id)
            -- (the message only for the transaction named)
            WHEN c.unbalanced THEN format('transaction %s is not balanced: %s', t.id, (
              SELECT string_agg(format('%s debits and credits differ by %s', s.asset, abs(s.net)), '; ' ORDER BY s.asset)
              FROM (SELECT p.asset, sum(CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) AS net FROM p WHERE p.tx = t.n GROUP BY p.asset) s
              WHERE s.net <> 0))
          END AS problem
          FROM unnest(t_ids, t_kinds, t_pending_ids, t_types, t_credit_expires_at) WITH ORDINALITY AS t(id, kind, pending_id, type, credit_expires_at, n)
          LEFT JOIN (
            SELECT s.tx, sum(s.postings)::int AS postings, bool_or(s.net <> 0) AS unbalanced
            FROM (SELECT p.tx, p.asset, count(*) AS postings, sum(CASE p.side WHEN 'D' THEN p.amount ELSE -p.amount END) AS net
                  FROM p GROUP BY p.tx, p.asset) s
            GROUP BY s.tx
          ) c ON c.tx = t.n
        ) y WHERE y.problem IS NOT NULL ORDER BY y.n LIMIT 1),
        -- within a batch an account that must not go below zero only ever moves one way, so that
        -- the summed change checked below cannot hide an overdraft
        (SELECT format('a batch cannot both add to and take from %s: record those apart', min(p.code))
         FROM p WHERE v_n > 1 AND p.floor_zero GROUP BY p.account_id
         HAVING bool_or(p.side = 'D') AND bool_or(p.side = 'C') ORDER BY p.account_id LIMIT 1)),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.keeps_lots AND p.side = 'D'), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.keeps_lots AND p.side = 'C'), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.shards > 1), '{}'),
      coalesce(array_agg(DISTINCT p.account_id) FILTER (WHERE p.floor_zero), '{}'),
      coalesce(array_agg(coalesce(p.shard, ((v_draw + p.account_id) % p.shards)::smallint) ORDER BY p.n), '{}'),
      count(*) FILTER (WHERE p.floor_zero),
      (SELECT coalesce(array_agg(DISTINCT h.transaction_id), '{}')
       FROM (SELECT DISTINCT p.account_id FROM p WHERE p.floor_zero) f JOIN ledger_open_holds h ON h.account_id = f.account_id
       WHERE h.expires_at <= v_created AND NOT (h.transaction_id = ANY (v_settles)))
    INTO v_problem, v_lot_debited, v_lot_credited, v_sharded, v_floor, v_shards, v_floor_postings, v_expired
    FROM p;
  END IF;
  IF v_problem IS NULL AND cardinality(x_expire_accounts) > 0 THEN
    SELECT format('account %s keeps no lots', x.id) INTO v_problem
    FROM unnest(x_expire_accounts) AS x(id) LEFT JOIN ledger_accounts a ON a.id = x.id
    WHERE NOT coalesce(a.keeps_lots, false) LIMIT 1;
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
  -- (Found with the checks above, for one transaction and for a batch: the resident accounts whose
  -- expired lots this call records, those it debits and those it is asked to expire, that have (or
  -- will have, once a released hold gives back) an expired lot; the sharded accounts it posts to,
  -- for the lock step; the resident accounts it credits; the floor-zero ones, whose expired holds
  -- are released below; and each posting's balance row when no hold is settled: the one named,
  -- else one of the account's, drawn once per call and account.)
  v_holds := v_settles || v_expired;
  IF cardinality(v_lot_debited) + cardinality(x_expire_accounts) > 0 THEN
    SELECT coalesce(array_agg(DISTINCT l.account_id), '{}') INTO v_expiring FROM ledger_lots l
    WHERE l.account_id = ANY (v_lot_debited || x_expire_accounts) AND l.remaining > 0 AND l.expires_at <= v_created;
    IF cardinality(v_holds) > 0 THEN
      SELECT coalesce(array_agg(DISTINCT x.id), '{}') INTO v_expiring FROM (
        SELECT unnest(v_expiring) AS id
        UNION SELECT l.account_id FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id
        WHERE m.transaction_id = ANY (v_holds) AND l.expires_at <= v_created AND l.account_id = ANY (v_lot_debited)) x;
    END IF;
  END IF;
  IF cardinality(v_expiring) > 0 THEN
    -- where expired points go (programme:expired, credit-normal, sharded; opened on first use)
    SELECT a.id, floor(random() * a.shards)::smallint INTO v_expired_account, v_expired_shard
    FROM ledger_accounts a WHERE a.code = 'programme:expired' AND a.asset = 'POINTS';
    IF v_expired_account IS NULL THEN
      WITH created AS (
        INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards) VALUES ('programme:expired', 'POINTS', 'C', false, 16)
        ON CONFLICT (code, asset) DO NOTHING RETURNING id, normal_side, floor_zero, shards
      ), rows AS (
        INSERT INTO account_balances (account_id, shard, normal_side, floor_zero)
        SELECT c.id, s.shard, c.normal_side, c.floor_zero FROM created c, generate_series(0, c.shards - 1) AS s(shard)
      )
      SELECT c.id INTO v_expired_account FROM created c;
      IF v_expired_account IS NULL THEN
        SELECT a.id INTO v_expired_account FROM ledger_accounts a WHERE a.code = 'programme:expired' AND a.asset = 'POINTS';
      END IF;
      v_expired_shard := floor(random() * 16)::smallint;
    END IF;
  END IF;

  -- 3. each posting's balance row: the one named, a settlement's on the hold's row, else one of the
  -- account's (drawn in the accounts' pass above when no hold is settled)
  IF cardinality(v_settles) > 0 THEN
    SELECT array_agg(coalesce(p.shard, hs.shard, r.shard) ORDER BY p.n) INTO v_shards
    FROM unnest(p_tx, p_accounts, p_shards) WITH ORDINALITY AS p(tx, account_id, shard, n)
    JOIN (SELECT x.id, CASE WHEN a.shards = 1 THEN 0 ELSE floor(random() * a.shards) END::smallint AS shard
          FROM (SELECT DISTINCT unnest(p_accounts) AS id) x
          CROSS JOIN LATERAL (SELECT a.shards FROM ledger_accounts a WHERE a.id = x.id OFFSET 0) a) r ON r.id = p.account_id
    JOIN unnest(t_pending_ids) WITH ORDINALITY AS t(pending_id, n) ON t.n = p.tx
    LEFT JOIN LATERAL (SELECT min(hp.shard) AS shard FROM ledger_postings hp
                       WHERE t.pending_id IS NOT NULL AND hp.transaction_id = t.pending_id AND hp.account_id = p.account_id) hs ON true;
  END IF;

  -- the sharded accounts whose row the door may choose (free): no posting names a row and no hold
  -- is settled or released (whose rows are fixed), and not the expired points' account (its row
  -- drawn above)
  IF cardinality(v_sharded) > 0 AND cardinality(v_holds) = 0 AND cardinality(array_remove(p_shards, NULL)) = 0 THEN
    v_free := v_sharded;
    IF v_expired_account IS NOT NULL THEN
      v_free := array_remove(v_free, v_expired_account);
    END IF;
  END IF;

  -- The call's transactions and its credits' lots are written before the rows are locked when it
  -- settles, releases, expires and reverses nothing (earn batches, award chunks, plain credits
  -- and debits): they follow from the call's arguments alone, and written here they are not part
  -- of the time the call holds the balance rows that concurrent calls of the same accounts wait
  -- for. No one else sees them before the commit, as before.
  v_early := v_n > 0 AND cardinality(v_holds) = 0 AND cardinality(v_expiring) = 0
             AND cardinality(array_remove(t_reverses_ids, NULL)) = 0;
  IF v_early THEN
    v_gave_back := false;
    PERFORM ledger_record_lots(t_ids, t_kinds, t_credit_expires_at, p_tx, p_accounts, p_sides, p_amounts,
                                v_lot_credited, v_n, v_k, v_gave_back, v_floor_postings = cardinality(v_floor), v_created);
    PERFORM ledger_record_transactions(t_ids, t_types, t_kinds, t_pending_ids, t_reverses_ids, t_expires_at, t_metadata,
                                        t_descriptions, t_effective_at, v_created);
  END IF;

  -- every row this call changes, locked in the one order: no two writes ever wait in a cycle.
  -- The rows are sorted first and each is then locked by its key (a nested loop over the sorted
  -- list, whatever the planner thinks of the list's size: never a pass over the balance table).
  -- A free account's row is the first of its rows that no one holds, from the one drawn above on
  -- (SKIP LOCKED: no wait); only when all are held does the call wait, for the drawn one, at the
  -- account's place in the order (the account has no other row in this call): every wait is for a
  -- row after all the rows the call holds.
  -- (Without holds to release or settle and lots to expire, the rows are the postings' alone: a
  -- plan without the other sources' scans, which cost even when they read nothing.)
  IF cardinality(v_holds) = 0 AND cardinality(v_expiring) = 0 THEN
  SELECT coalesce(array_agg(r.account_id) FILTER (WHERE r.free), '{}'),
         coalesce(array_agg(coalesce(k.shard, w.shard)) FILTER (WHERE r.free), '{}')
    INTO v_free, v_picked
  FROM (
    SELECT DISTINCT x.account_id, x.shard, x.account_id = ANY (v_free) AS free FROM unnest(p_accounts, v_shards) AS x(account_id, shard)
    ORDER BY x.account_id, x.shard) r
  LEFT JOIN LATERAL (SELECT 1 AS locked FROM account_balances b
                     WHERE NOT r.free AND b.account_id = r.account_id AND b.shard = r.shard FOR UPDATE) l ON true
  LEFT JOIN LATERAL (SELECT b.shard FROM account_balances b WHERE r.free AND b.account_id = r.account_id
                     ORDER BY b.shard < r.shard, b.shard LIMIT 1 FOR UPDATE SKIP LOCKED) k ON true
  LEFT JOIN LATERAL (SELECT b.shard FROM account_balances b
                     WHERE r.free AND k.shard IS NULL AND b.account_id = r.account_id AND b.shard = r.shard FOR UPDATE) w ON true;
  ELSE
  SELECT coalesce(array_agg(r.account_id) FILTER (WHERE r.free), '{}'),
         coalesce(array_agg(coalesce(k.shard, w.shard)) FILTER (WHERE r.free), '{}')
    INTO v_free, v_picked
  FROM (
    SELECT u.account_id, u.shard, u.free FROM (
      SELECT x.account_id, x.shard, x.account_id = ANY (v_free) AS free FROM unnest(p_accounts, v_shards) AS x(account_id, shard)
      UNION SELECT hp.account_id, hp.shard, false FROM unnest(v_holds) AS h(id) JOIN ledger_postings hp ON hp.transaction_id = h.id
      UNION SELECT e.id, 0::smallint, false FROM unnest(v_expiring) AS e(id)
      UNION SELECT v_expired_account, v_expired_shard, false WHERE v_expired_account IS NOT NULL) u
    ORDER BY u.account_id, u.shard) r
  LEFT JOIN LATERAL (SELECT 1 AS locked FROM account_balances b
                     WHERE NOT r.free AND b.account_id = r.account_id AND b.shard = r.shard FOR UPDATE) l ON true
  LEFT JOIN LATERAL (SELECT b.shard FROM account_balances b WHERE r.free AND b.account_id = r.account_id
                     ORDER BY b.shard < r.shard, b.shard LIMIT 1 FOR UPDATE SKIP LOCKED) k ON true
  LEFT JOIN LATERAL (SELECT b.shard FROM account_balances b
                     WHERE r.free AND k.shard IS NULL AND b.account_id = r.account_id AND b.shard = r.shard FOR UPDATE) w ON true;
  END IF;
  -- the free accounts' postings go to the rows taken
  IF cardinality(v_free) > 0 THEN
    IF v_np <= 64 THEN
      FOR v_i IN 1 .. v_np LOOP
        IF p_accounts[v_i] = ANY (v_free) THEN
          v_shards[v_i] := v_picked[array_position(v_free, p_accounts[v_i])];
        END IF;
      END LOOP;
    ELSE
      SELECT array_agg(coalesce(f.shard, p.shard) ORDER BY p.n) INTO v_shards
      FROM unnest(p_accounts, v_shards) WITH ORDINALITY AS p(account_id, shard, n)
      LEFT JOIN unnest(v_free, v_picked) AS f(account_id, shard) ON f.account_id = p.account_id;
    END IF;
  END IF;

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
    SELECT coalesce(array_agg(gen_random_uuid()), '{}') INTO v_expired_voids FROM unnest(v_expired);
  END IF;

  -- 4. the lots, under the rows' locks.
  -- (a) what released holds and reversals took comes back to the same lots (expired or not: an
  --     expired lot given back is recorded as expired again). A hold that is posted keeps what it
  --     posts, soonest-expiring lots first, and gives back the rest.
  IF cardinality(v_holds) > 0 THEN
    WITH hs AS (
      SELECT t.pending_id AS hold, t.id AS settlement FROM unnest(t_pending_ids, t_ids) AS t(pending_id, id) WHERE t.pending_id IS NOT NULL
      UNION ALL SELECT x.hold, x.settlement FROM unnest(v_expired, v_expired_voids) AS x(hold, settlement)
    ), taken AS (
      SELECT hs.settlement, l.account_id, m.lot_id, l.expires_at, sum(m.amount) AS amount
      FROM hs JOIN ledger_lot_moves m ON m.transaction_id = hs.hold JOIN ledger_lots l ON l.id = m.lot_id
      GROUP BY hs.settlement, l.account_id, m.lot_id, l.expires_at HAVING sum(m.amount) > 0
    ), keep AS (
      SELECT t.id AS settlement, p.account_id, sum(p.amount) AS amount
      FROM unnest(p_tx, p_accounts, p_sides, p_amounts) AS p(tx, account_id, side, amount)
      JOIN unnest(t_ids, t_pending_ids) WITH ORDINALITY AS t(id, pending_id, n) ON t.n = p.tx
      WHERE t.pending_id IS NOT NULL AND p.side = 'D' GROUP BY 1, 2
    ), ranked AS (
      SELECT tk.settlement, tk.lot_id, tk.amount, coalesce(k.amount, 0) AS keep,
             sum(tk.amount) OVER (PARTITION BY tk.settlement, tk.account_id ORDER BY tk.expires_at, tk.lot_id) AS upto
      FROM taken tk LEFT JOIN keep k ON k.settlement = tk.settlement AND k.account_id = tk.account_id
    ), back AS (
      SELECT r.settlement, r.lot_id, least(r.amount, r.upto - r.keep) AS amount FROM ranked r WHERE r.upto > r.keep
    ), moved AS (
      INSERT INTO ledger_lot_moves (transaction_id, lot_id, amount, created_at)
      SELECT b.settlement, b.lot_id, -b.amount, v_created FROM back b ORDER BY b.lot_id
    )
    UPDATE ledger_lots l SET remaining = l.remaining + b.amount
    FROM (SELECT lot_id, sum(amount) AS amount FROM back GROUP BY lot_id) b WHERE l.id = b.lot_id;
  END IF;
  IF cardinality(array_remove(t_reverses_ids, NULL)) > 0 THEN
  WITH rev AS (
    SELECT t.id, t.reverses_id, p.account_id, sum(p.amount) AS amount
    FROM unnest(p_tx, p_accounts, p_sides, p_amounts) AS p(tx, account_id, side, amount)
    JOIN unnest(t_ids, t_kinds, t_reverses_ids) WITH ORDINALITY AS t(id, kind, reverses_id, n) ON t.n = p.tx
    CROSS JOIN LATERAL (SELECT a.keeps_lots FROM ledger_accounts a WHERE a.id = p.account_id OFFSET 0) a
    WHERE t.reverses_id IS NOT NULL AND t.kind = 'posted' AND p.side = 'C' AND a.keeps_lots
    GROUP BY 1, 2, 3
  ), taken AS (
    SELECT r.id, r.amount AS credit, m.lot_id, l.expires_at, sum(m.amount) AS amount
    FROM rev r JOIN ledger_transactions o ON o.id = r.reverses_id
    JOIN ledger_lot_moves m ON m.transaction_id = o.id OR m.transaction_id = o.pending_id
    JOIN ledger_lots l ON l.id = m.lot_id AND l.account_id = r.account_id
    GROUP BY r.id, r.amount, m.lot_id, l.expires_at HAVING sum(m.amount) > 0
  ), ranked AS (
    SELECT tk.*, sum(tk.amount) OVER (PARTITION BY tk.id ORDER BY tk.expires_at, tk.lot_id) AS upto FROM taken tk
  ), back AS (
    SELECT r.id, r.lot_id, least(r.amount, r.credit - (r.upto - r.amount)) AS amount FROM ranked r WHERE r.upto - r.amount < r.credit
  ), moved AS (
    INSERT INTO ledger_lot_moves (transaction_id, lot_id, amount, created_at)
    SELECT b.id, b.lot_id, -b.amount, v_created FROM back b ORDER BY b.lot_id
  )
  UPDATE ledger_lots l SET remaining = l.remaining + b.amount
  FROM (SELECT lot_id, sum(amount) AS amount FROM back GROUP BY lot_id) b WHERE l.id = b.lot_id;
  END IF;

  -- (b) the expired lots of the accounts found above: each account's expired remainder becomes
  --     one 'expiry' transaction, and those lots' remaining zero, here, under the row lock
  IF cardinality(v_expiring) > 0 THEN
    WITH x AS (
      SELECT l.id, l.account_id, l.remaining FROM unnest(v_expiring) AS e(id)
      JOIN ledger_lots l ON l.account_id = e.id AND l.remaining > 0 AND l.expires_at <= v_created
    ), per AS (
      SELECT x.account_id, gen_random_uuid() AS tx, sum(x.remaining) AS amount, count(*)::int AS lots
      FROM x GROUP BY x.account_id
    ), moved AS (
      INSERT INTO ledger_lot_moves (transaction_id, lot_id, amount, created_at)
      SELECT per.tx, x.id, x.remaining, v_created FROM x JOIN per ON per.account_id = x.account_id ORDER BY x.id
    ), zeroed AS (
      UPDATE ledger_lots l SET remaining = 0 FROM x WHERE l.id = x.id
    )
    SELECT coalesce(array_agg(per.tx ORDER BY per.account_id), '{}'), coalesce(array_agg(per.account_id ORDER BY per.account_id), '{}'),
           coalesce(array_agg(per.amount ORDER BY per.account_id), '{}'), coalesce(array_agg(per.lots ORDER BY per.account_id), '{}')
    INTO x_tx, x_accounts, x_amounts, x_lots FROM per;
    v_k := cardinality(x_tx);
  END IF;
  IF v_k > 0 THEN
    -- the expiries go first in this call's transactions: their postings precede the others in
    -- the running balances
    t_ids := x_tx || t_ids;
    t_types := array_fill('expiry'::text, ARRAY[v_k]) || t_types;
    t_kinds := array_fill('posted'::text, ARRAY[v_k]) || t_kinds;
    t_pending_ids := array_fill(NULL::uuid, ARRAY[v_k]) || t_pending_ids;
    t_reverses_ids := array_fill(NULL::uuid, ARRAY[v_k]) || t_reverses_ids;
    t_expires_at := array_fill(NULL::timestamptz, ARRAY[v_k]) || t_expires_at;
    t_metadata := (SELECT array_agg(jsonb_build_object('lots', x.lots) ORDER BY x.n) FROM unnest(x_lots) WITH ORDINALITY AS x(lots, n)) || t_metadata;
    t_descriptions := array_fill('Points expired'::text, ARRAY[v_k]) || t_descriptions;
    t_effective_at := array_fill(NULL::timestamptz, ARRAY[v_k]) || t_effective_at;
    t_credit_expires_at := array_fill(NULL::timestamptz, ARRAY[v_k]) || t_credit_expires_at;
    SELECT array_agg(e.tx ORDER BY e.n, e.side) , array_agg(e.account_id ORDER BY e.n, e.side), array_agg(e.shard ORDER BY e.n, e.side),
           array_agg(e.amount ORDER BY e.n, e.side), array_agg(e.side ORDER BY e.n, e.side)
    INTO x_lots, x_accounts, v_shards_x, x_amounts, v_sides_x
    FROM (SELECT x.n::int AS tx, x.n, x.account_id, 0::smallint AS shard, x.amount, 'D'::text AS side
          FROM unnest(x_accounts, x_amounts) WITH ORDINALITY AS x(account_id, amount, n)
          UNION ALL
          SELECT x.n::int, x.n, v_expired_account, v_expired_shard, x.amount, 'E'
          FROM unnest(x_accounts, x_amounts) WITH ORDINALITY AS x(account_id, amount, n)) e;
    p_tx := x_lots || (SELECT coalesce(array_agg(p.tx + v_k ORDER BY p.n), '{}') FROM unnest(p_tx) WITH ORDINALITY AS p(tx, n));
    p_accounts := x_accounts || p_accounts;
    v_shards := v_shards_x || v_shards;
    p_shards := v_shards_x || p_shards;
    p_assets := array_fill('POINTS'::text, ARRAY[2 * v_k]) || p_assets;
    p_sides := array_replace(v_sides_x, 'E', 'C') || p_sides;
    p_amounts := x_amounts || p_amounts;
    v_n := v_n + v_k;
  END IF;
  IF v_n = 0 THEN
    -- asked to expire accounts that had nothing expired any more
    RETURN QUERY SELECT v_created, '{}'::bigint[], '{}'::numeric[];
    RETURN;
  END IF;

  IF NOT v_early THEN
    v_gave_back := cardinality(v_holds) > 0 OR cardinality(array_remove(t_reverses_ids, NULL)) > 0;
    -- (c) every posted credit of a resident account makes a lot (a reversal's credit: only what it
    --     did not give back above); its expiry is the transaction's t_credit_expires_at
    PERFORM ledger_record_lots(t_ids, t_kinds, t_credit_expires_at, p_tx, p_accounts, p_sides, p_amounts,
                                v_lot_credited, v_n, v_k, v_gave_back, v_floor_postings = cardinality(v_floor), v_created);
  END IF;

  -- (d) every debit of a resident account (posted, or held by a pending transaction; not a
  --     settlement: a hold took its points when it was made) takes from the account's open lots
  --     that have not expired, soonest expiry first, lots without expiry last; a reversal takes
  --     from the reversed credit's own lot first
  IF cardinality(v_lot_debited) > 0 THEN
  FOR v_take IN
    SELECT t.id, t.reverses_id, p.account_id, sum(p.amount) AS amount
    FROM unnest(p_tx, p_accounts, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, side, amount, n)
    JOIN unnest(t_ids, t_kinds, t_pending_ids, t_reverses_ids) WITH ORDINALITY AS t(id, kind, pending_id, reverses_id, n) ON t.n = p.tx
    CROSS JOIN LATERAL (SELECT a.keeps_lots FROM ledger_accounts a WHERE a.id = p.account_id OFFSET 0) a
    WHERE p.side = 'D' AND a.keeps_lots AND t.kind IN ('posted', 'pending') AND t.pending_id IS NULL AND t.n > v_k
    GROUP BY t.n, t.id, t.reverses_id, p.account_id ORDER BY t.n, p.account_id
  LOOP
    WITH o AS (
      SELECT l.id, l.remaining,
             sum(l.remaining) OVER (ORDER BY (l.transaction_id IS NOT DISTINCT FROM v_take.reverses_id AND v_take.reverses_id IS NOT NULL) DESC,
                                             l.expires_at, l.id) AS upto
      FROM ledger_lots l
      WHERE l.account_id = v_take.account_id AND l.remaining > 0 AND (l.expires_at IS NULL OR l.expires_at > v_created)
    ), took AS (
      SELECT o.id, least(o.remaining, v_take.amount - (o.upto - o.remaining)) AS amount FROM o WHERE o.upto - o.remaining < v_take.amount
    ), moved AS (
      INSERT INTO ledger_lot_moves (transaction_id, lot_id, amount, created_at)
      SELECT v_take.id, took.id, took.amount, v_created FROM took ORDER BY took.id
    ), changed AS (
      UPDATE ledger_lots l SET remaining = l.remaining - took.amount FROM took WHERE l.id = took.id
    )
    SELECT coalesce(sum(took.amount), 0) INTO v_taken FROM took;
    IF v_taken < v_take.amount AND v_short_lots IS NULL THEN
      -- the balance row's check below names the shortfall; if it passes, the lots have drifted
      v_short_lots := v_take.account_id;
    END IF;
  END LOOP;
  END IF;
  -- 5. the balance changes, per row, in the lock order, and the rows changed by them (without
  -- holds released or settled: from the postings alone, in one statement)
  IF cardinality(v_holds) = 0 THEN
  WITH d AS (
    SELECT p.account_id, p.shard,
      sum(CASE WHEN t.kind = 'posted' AND p.side = 'D' THEN p.amount ELSE 0 END) AS debits,
      sum(CASE WHEN t.kind = 'posted' AND p.side = 'C' THEN p.amount ELSE 0 END) AS credits,
      sum(CASE WHEN t.kind = 'pending' AND p.side = 'D' THEN p.amount ELSE 0 END) AS debits_pending,
      sum(CASE WHEN t.kind = 'pending' AND p.side = 'C' THEN p.amount ELSE 0 END) AS credits_pending
    FROM unnest(p_tx, p_accounts, v_shards, p_sides, p_amounts) AS p(tx, account_id, shard, side, amount)
    JOIN unnest(t_kinds) WITH ORDINALITY AS t(kind, n) ON t.n = p.tx
    GROUP BY p.account_id, p.shard ORDER BY p.account_id, p.shard
  ), updated AS (
    UPDATE account_balances b SET
      debits_posted = b.debits_posted + d.debits,
      credits_posted = b.credits_posted + d.credits,
      debits_pending = b.debits_pending + d.debits_pending,
      credits_pending = b.credits_pending + d.credits_pending,
      -- a resident account's soonest expiry of its open lots (one probe of the open lots' index)
      next_expiry = CASE WHEN b.floor_zero AND b.normal_side = 'C'
        THEN (SELECT min(l.expires_at) FROM ledger_lots l WHERE l.account_id = b.account_id AND l.remaining > 0)
        ELSE b.next_expiry END
    -- each row found by its key, then updated where it is (its ctid: it is locked above)
    FROM (SELECT d.*, k.row_id FROM d CROSS JOIN LATERAL (SELECT x.ctid AS row_id FROM account_balances x
                                                         WHERE x.account_id = d.account_id AND x.shard = d.shard OFFSET 0) k) d
    WHERE b.ctid = d.row_id AND b.account_id = d.account_id AND b.shard = d.shard
      AND (NOT b.floor_zero OR CASE b.normal_side
        WHEN 'C' THEN (b.credits_posted + d.credits) - (b.debits_posted + d.debits) - (b.debits_pending + d.debits_pending)
        ELSE (b.debits_posted + d.debits) - (b.credits_posted + d.credits) - (b.credits_pending + d.credits_pending)
      END >= 0)
    RETURNING b.account_id, b.floor_zero, b.normal_side,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted ELSE b.debits_posted - b.credits_posted END AS after,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                         ELSE b.debits_posted - b.credits_posted - b.credits_pending END AS available
  )
  SELECT (SELECT count(*) FROM d), count(*), coalesce(array_agg(u.account_id) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.after) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.available) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.normal_side = 'C') FILTER (WHERE u.floor_zero), '{}')
  INTO v_expected, v_updated, v_after_accounts, v_afters, v_availables, v_after_credit_normal
  FROM updated u;
  ELSE
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
    FROM unnest(v_holds) AS h(id) JOIN ledger_postings hp ON hp.transaction_id = h.id
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
      credits_pending = b.credits_pending + d.credits_pending,
      -- a resident account's soonest expiry of its open lots (one probe of the open lots' index)
      next_expiry = CASE WHEN b.floor_zero AND b.normal_side = 'C'
        THEN (SELECT min(l.expires_at) FROM ledger_lots l WHERE l.account_id = b.account_id AND l.remaining > 0)
        ELSE b.next_expiry END
    -- each row found by its key, then updated where it is (its ctid: it is locked above)
    FROM (SELECT d.*, k.row_id FROM d CROSS JOIN LATERAL (SELECT x.ctid AS row_id FROM account_balances x
                                                         WHERE x.account_id = d.account_id AND x.shard = d.shard OFFSET 0) k) d
    WHERE b.ctid = d.row_id AND b.account_id = d.account_id AND b.shard = d.shard
      AND (NOT b.floor_zero OR CASE b.normal_side
        WHEN 'C' THEN (b.credits_posted + d.credits) - (b.debits_posted + d.debits) - (b.debits_pending + d.debits_pending)
        ELSE (b.debits_posted + d.debits) - (b.credits_posted + d.credits) - (b.credits_pending + d.credits_pending)
      END >= 0)
    RETURNING b.account_id, b.floor_zero, b.normal_side,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted ELSE b.debits_posted - b.credits_posted END AS after,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                         ELSE b.debits_posted - b.credits_posted - b.credits_pending END AS available
  )
  SELECT count(*), coalesce(array_agg(u.account_id) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.after) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.available) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.normal_side = 'C') FILTER (WHERE u.floor_zero), '{}')
  INTO v_updated, v_after_accounts, v_afters, v_availables, v_after_credit_normal
  FROM updated u;
  END IF;
  IF v_updated <> v_expected THEN
    IF d_accounts IS NULL THEN
    WITH d AS (
      SELECT p.account_id, p.shard,
        sum(CASE WHEN t.kind = 'posted' AND p.side = 'D' THEN p.amount ELSE 0 END) AS debits,
        sum(CASE WHEN t.kind = 'posted' AND p.side = 'C' THEN p.amount ELSE 0 END) AS credits,
        sum(CASE WHEN t.kind = 'pending' AND p.side = 'D' THEN p.amount ELSE 0 END) AS debits_pending,
        sum(CASE WHEN t.kind = 'pending' AND p.side = 'C' THEN p.amount ELSE 0 END) AS credits_pending
      FROM unnest(p_tx, p_accounts, v_shards, p_sides, p_amounts) AS p(tx, account_id, shard, side, amount)
      JOIN unnest(t_kinds) WITH ORDINALITY AS t(kind, n) ON t.n = p.tx
      GROUP BY p.account_id, p.shard ORDER BY p.account_id, p.shard
    )
    SELECT array_agg(d.account_id), array_agg(d.shard), array_agg(d.debits), array_agg(d.credits),
           array_agg(d.debits_pending), array_agg(d.credits_pending), count(*)
    INTO d_accounts, d_shards, d_debits, d_credits, d_debits_pending, d_credits_pending, v_expected
    FROM d;
    END IF;
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

  IF v_short_lots IS NOT NULL THEN
    RAISE EXCEPTION 'the lots of ledger account % do not cover its balance', v_short_lots USING ERRCODE = 'CL004';
  END IF;

  -- 6. the journal: releases of expired holds first, then the transactions, then the postings
  IF cardinality(v_expired) > 0 THEN
    INSERT INTO ledger_transactions (id, type, kind, pending_id, metadata, effective_at, created_at)
    SELECT x.void_id, 'hold.expired', 'void', x.id, '{}'::jsonb, v_created, v_created
    FROM unnest(v_expired, v_expired_voids) AS x(id, void_id);
  END IF;

  IF NOT v_early THEN
    PERFORM ledger_record_transactions(t_ids, t_types, t_kinds, t_pending_ids, t_reverses_ids, t_expires_at, t_metadata,
                                        t_descriptions, t_effective_at, v_created);
  END IF;

  IF v_n = 1 AND v_k = 0 AND v_floor_postings = cardinality(v_floor) THEN
  -- (one transaction, each floor-zero account posted to once: its balance after is the row's)
  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT t_ids[1], p.account_id, p.shard, p.asset, p.side, p.amount, t_kinds[1] = 'pending',
         v_afters[array_position(v_after_accounts, p.account_id)], v_created
  FROM unnest(p_accounts, v_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(account_id, shard, asset, side, amount, n)
  ORDER BY p.n;
  ELSIF v_n = 1 THEN
  -- (one transaction: every posting is its)
  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT t_ids[1], p.account_id, p.shard, p.asset, p.side, p.amount, t_kinds[1] = 'pending',
    CASE WHEN a.account_id IS NULL THEN NULL ELSE a.after - coalesce(sum(
      CASE WHEN t_kinds[1] <> 'posted' THEN 0
           WHEN (p.side = 'C') = a.credit_normal THEN p.amount ELSE -p.amount END
    ) OVER (PARTITION BY p.account_id ORDER BY p.n DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END,
    v_created
  FROM unnest(p_accounts, v_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(account_id, shard, asset, side, amount, n)
  LEFT JOIN unnest(v_after_accounts, v_afters, v_after_credit_normal) AS a(account_id, after, credit_normal) ON a.account_id = p.account_id
  ORDER BY p.n;
  ELSE
  -- joined, not subscripted: t_ids[p.tx] on a large array would unpack it again for every row
  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT x.id, p.account_id, p.shard, p.asset, p.side, p.amount, x.kind = 'pending',
    CASE WHEN a.account_id IS NULL THEN NULL ELSE a.after - coalesce(sum(
      CASE WHEN x.kind <> 'posted' THEN 0
           WHEN (p.side = 'C') = a.credit_normal THEN p.amount ELSE -p.amount END
    ) OVER (PARTITION BY p.account_id ORDER BY p.n DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END,
    v_created
  FROM unnest(p_tx, p_accounts, v_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
  JOIN unnest(t_ids, t_kinds) WITH ORDINALITY AS x(id, kind, n) ON x.n = p.tx
  LEFT JOIN unnest(v_after_accounts, v_afters, v_after_credit_normal) AS a(account_id, after, credit_normal) ON a.account_id = p.account_id
  ORDER BY p.n;
  END IF;

  IF cardinality(v_holds) > 0 THEN
    DELETE FROM ledger_open_holds h WHERE h.transaction_id = ANY (v_holds);
  END IF;
  IF 'pending' = ANY (t_kinds) THEN
  INSERT INTO ledger_open_holds (transaction_id, account_id, shard, side, amount, expires_at)
  SELECT x.id, p.account_id, p.shard, p.side, sum(p.amount), x.expires_at
  FROM unnest(p_tx, p_accounts, v_shards, p_sides, p_amounts) AS p(tx, account_id, shard, side, amount)
  JOIN unnest(t_ids, t_kinds, t_expires_at) WITH ORDINALITY AS x(id, kind, expires_at, n) ON x.n = p.tx
  WHERE x.kind = 'pending' AND x.expires_at IS NOT NULL
  GROUP BY x.id, p.account_id, p.shard, p.side, x.expires_at;
  END IF;

  -- points.expired, through the webhooks' outbox (in this transaction: it exists only if the expiry commits)
  IF v_k > 0 AND webhook_subscribed(ARRAY['points.expired']) THEN
    PERFORM webhook_publish(
      array_fill('points.expired'::text, ARRAY[v_k]),
      (SELECT array_agg(substr(a.code, 10) ORDER BY x.n) FROM generate_series(1, v_k) AS x(n)
         JOIN ledger_accounts a ON a.id = p_accounts[2 * x.n - 1]),
      array_fill(NULL::text, ARRAY[v_k]), array_fill(NULL::text, ARRAY[v_k]),
      (SELECT array_agg(jsonb_build_object('residentId', substr(a.code, 10), 'points', p_amounts[2 * x.n - 1]::text,
                                           'expiredAt', to_char(v_created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                           'transactionId', x.id) ORDER BY x.n)
         FROM unnest(t_ids[1:v_k]) WITH ORDINALITY AS x(id, n) JOIN ledger_accounts a ON a.id = p_accounts[2 * x.n - 1]));
  END IF;

  -- The call's postings were given their ids within its bound of its created_at (taken when the
  -- call began, before it waited for any lock), or it fails here and writes nothing. Readers of
  -- the journal rely on it: postingIdFloor (src/ledger/balance-checkpoints.sql.ts) finds every
  -- posting created after a moment above the ids of the transactions created a minute before it,
  -- for a balance as of a moment and a statement's pages. The bound is 30 seconds;
  -- `civic.ledger_call_limit` (an interval) can only shorten it, for the tests. (CL004 is taken:
  -- lots that do not cover a balance.)
  IF clock_timestamp() > v_created + least(coalesce(nullif(current_setting('civic.ledger_call_limit', true), '')::interval,
                                                    interval '30 seconds'), interval '30 seconds') THEN
    RAISE EXCEPTION 'ledger_record: % from the call''s start to its postings, over its bound: nothing was written, try again',
      clock_timestamp() - v_created USING ERRCODE = 'CL005';
  END IF;

  created_at := v_created; floor_accounts := v_after_accounts; available_after := v_availables;
  RETURN NEXT;
END
$$;
