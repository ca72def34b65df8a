-- insufficient_points says how many points were needed and how many were available: ledger_record
-- raises CL001 with a HINT holding both (as JSON text), read by the ledger service for the
-- message. Nothing else of the function changes (same arguments, result, locks and order).
CREATE OR REPLACE FUNCTION ledger_record(
  p_id UUID, p_type TEXT, p_kind TEXT, p_pending_id UUID, p_reverses_id UUID,
  p_expires_at TIMESTAMPTZ, p_metadata JSONB, p_description TEXT, p_effective_at TIMESTAMPTZ,
  p_accounts BIGINT[], p_shards SMALLINT[], p_assets TEXT[], p_sides TEXT[], p_amounts NUMERIC[],
  d_accounts BIGINT[], d_shards SMALLINT[], d_debits NUMERIC[], d_credits NUMERIC[],
  d_debits_pending NUMERIC[], d_credits_pending NUMERIC[]
) RETURNS TABLE (seq BIGINT, created_at TIMESTAMPTZ, floor_accounts BIGINT[], available_after NUMERIC[])
LANGUAGE plpgsql AS $$
DECLARE
  v_created TIMESTAMPTZ := clock_timestamp();
  v_seq BIGINT;
  v_after NUMERIC;
  v_available NUMERIC;
  v_floor BOOLEAN;
  v_after_accounts BIGINT[] := '{}';
  v_afters NUMERIC[] := '{}';
  v_availables NUMERIC[] := '{}';
BEGIN
  INSERT INTO ledger_transactions AS t
    (id, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at)
  VALUES
    (p_id, p_type, p_kind, p_pending_id, p_reverses_id, p_expires_at, coalesce(p_metadata, '{}'::jsonb),
     p_description, coalesce(p_effective_at, v_created), v_created)
  RETURNING t.seq INTO v_seq;

  FOR i IN 1 .. coalesce(array_length(d_accounts, 1), 0) LOOP
    UPDATE account_balances b SET
      debits_posted = b.debits_posted + d_debits[i],
      credits_posted = b.credits_posted + d_credits[i],
      debits_pending = b.debits_pending + d_debits_pending[i],
      credits_pending = b.credits_pending + d_credits_pending[i]
    WHERE b.account_id = d_accounts[i] AND b.shard = d_shards[i]
      AND (NOT b.floor_zero OR CASE b.normal_side
        WHEN 'C' THEN (b.credits_posted + d_credits[i]) - (b.debits_posted + d_debits[i]) - (b.debits_pending + d_debits_pending[i])
        ELSE (b.debits_posted + d_debits[i]) - (b.credits_posted + d_credits[i]) - (b.credits_pending + d_credits_pending[i])
      END >= 0)
    RETURNING b.floor_zero,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted ELSE b.debits_posted - b.credits_posted END,
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                         ELSE b.debits_posted - b.credits_posted - b.credits_pending END
    INTO v_floor, v_after, v_available;
    IF NOT FOUND THEN
      -- what the change needed and what the account had, in its normal direction, for the message
      SELECT CASE b.normal_side WHEN 'C' THEN d_debits[i] + d_debits_pending[i] - d_credits[i]
                                ELSE d_credits[i] + d_credits_pending[i] - d_debits[i] END,
             CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted - b.debits_pending
                                ELSE b.debits_posted - b.credits_posted - b.credits_pending END
        INTO v_after, v_available
        FROM account_balances b WHERE b.account_id = d_accounts[i] AND b.shard = d_shards[i];
      RAISE EXCEPTION 'insufficient balance on ledger account %', d_accounts[i]
        USING ERRCODE = 'CL001', DETAIL = d_accounts[i]::text,
              HINT = json_build_object('needed', v_after::text, 'available', v_available::text)::text;
    END IF;
    IF v_floor THEN
      v_after_accounts := v_after_accounts || d_accounts[i];
      v_afters := v_afters || v_after;
      v_availables := v_availables || v_available;
    END IF;
  END LOOP;

  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT p_id, p.account_id, p.shard, p.asset, p.side, p.amount, p_kind = 'pending', a.after, v_created
  FROM unnest(p_accounts, p_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(account_id, shard, asset, side, amount, n)
  LEFT JOIN unnest(v_after_accounts, v_afters) AS a(account_id, after) ON a.account_id = p.account_id
  ORDER BY p.n;

  RETURN QUERY SELECT v_seq, v_created, v_after_accounts, v_availables;
END
$$;

-- An unlimited item's sales are counted from its redemptions (its own counter guards a limited
-- stock only): an index-only sum per item for the catalogue's `sold`.
CREATE INDEX redemptions_item_sales_idx ON redemptions (item_id) INCLUDE (quantity)
  WHERE status <> 'cancelled' AND kind <> 'DONATION';
