-- catalogue_redeem again, with three changes and otherwise the same body:
-- * the balance rows go to ledger_record in the lock order every other ledger write uses
--   (account id, then shard): resident first and payee second deadlocked, in principle, with a
--   write that locks the same two rows the other way round;
-- * balanceAfter is read for the resident's account by name, not as the first floor account;
-- * the resident account the service passes is checked to be this resident's.
CREATE OR REPLACE FUNCTION catalogue_redeem(
  p_scope TEXT, p_key TEXT, p_hash TEXT,
  p_redemption_id UUID, p_transaction_id UUID,
  p_resident_id TEXT, p_resident_account BIGINT,
  p_item_id TEXT, p_quantity INT, p_codes TEXT[]
) RETURNS TABLE (outcome TEXT, request_hash TEXT, status SMALLINT, response JSONB)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_item catalogue_items%ROWTYPE;
  v_now TIMESTAMPTZ := date_trunc('milliseconds', now());
  v_count INT;
  v_price NUMERIC;
  v_payee_code TEXT;
  v_payee BIGINT;
  v_payee_shards INT;
  v_shard SMALLINT;
  v_available NUMERIC;
  v_valid_until TIMESTAMPTZ;
  v_codes JSONB;
  v_issued INT;
  v_answer JSONB;
BEGIN
  INSERT INTO idempotency_keys AS k (scope, key, request_hash) VALUES (p_scope, p_key, p_hash)
  ON CONFLICT (scope, key) DO NOTHING;
  IF NOT FOUND THEN
    -- used before (a concurrent first use was waited for): its answer, or a conflict the service names
    RETURN QUERY SELECT 'replay'::text, k.request_hash::text, k.status, k.response
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
  v_payee_code := 'partner:' || v_item.partner_id || ':redeemed';
  SELECT a.id, a.shards INTO v_payee, v_payee_shards FROM ledger_accounts a WHERE a.code = v_payee_code AND a.asset = 'POINTS';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'general path: payee account' USING ERRCODE = 'CL100';
  END IF;
  -- the account the service named is this resident's (a wrong one would spend someone else's points)
  PERFORM 1 FROM ledger_accounts a
    WHERE a.id = p_resident_account AND a.code = 'resident:' || p_resident_id AND a.asset = 'POINTS' AND a.floor_zero;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'general path: resident account' USING ERRCODE = 'CL100';
  END IF;
  -- a sharded system account takes this transaction on one of its rows, at random
  v_shard := floor(random() * v_payee_shards)::smallint;

  BEGIN
    SELECT r.available_after[array_position(r.floor_accounts, p_resident_account)] INTO v_available FROM ledger_record(
      p_transaction_id, 'redeem', 'posted', NULL, NULL, NULL,
      jsonb_build_object('redemptionId', p_redemption_id, 'itemId', p_item_id, 'quantity', p_quantity, 'residentId', p_resident_id),
      v_item.title || CASE WHEN p_quantity > 1 THEN ' × ' || p_quantity ELSE '' END,
      NULL,
      ARRAY[p_resident_account, v_payee], ARRAY[0, v_shard]::smallint[], ARRAY['POINTS', 'POINTS'], ARRAY['D', 'C'],
      ARRAY[v_price, v_price],
      -- balance rows in the lock order every other ledger write uses: account id, then shard
      CASE WHEN p_resident_account < v_payee THEN ARRAY[p_resident_account, v_payee] ELSE ARRAY[v_payee, p_resident_account] END,
      CASE WHEN p_resident_account < v_payee THEN ARRAY[0, v_shard] ELSE ARRAY[v_shard, 0] END::smallint[],
      CASE WHEN p_resident_account < v_payee THEN ARRAY[v_price, 0] ELSE ARRAY[0, v_price] END,
      CASE WHEN p_resident_account < v_payee THEN ARRAY[0, v_price] ELSE ARRAY[v_price, 0] END,
      ARRAY[0, 0]::numeric[], ARRAY[0, 0]::numeric[]) r;
  EXCEPTION WHEN SQLSTATE 'CL001' THEN
    RAISE EXCEPTION 'general path: balance' USING ERRCODE = 'CL100';
  END;

  INSERT INTO redemptions (id, resident_id, item_id, kind, quantity, points_spent, status, transaction_id,
                           stock_counted, limit_counted, created_at)
  VALUES (p_redemption_id, p_resident_id, p_item_id, v_item.kind, p_quantity, v_price, 'completed', p_transaction_id,
          v_item.stock IS NOT NULL, v_item.per_resident_limit IS NOT NULL, v_now);

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
    SELECT count(*), jsonb_agg(jsonb_build_object('code', c.code, 'validUntil', ledger_iso_time(v_valid_until), 'status', 'issued') ORDER BY c.id)
    INTO v_issued, v_codes FROM c;
  ELSE
    WITH c AS (
      INSERT INTO item_codes (item_id, code, status, redemption_id, valid_until, issued_at)
      SELECT p_item_id, g, 'issued', p_redemption_id, v_valid_until, v_now FROM unnest(p_codes[1:p_quantity]) AS g
      RETURNING id, code)
    SELECT count(*), jsonb_agg(jsonb_build_object('code', c.code, 'validUntil', ledger_iso_time(v_valid_until), 'status', 'issued') ORDER BY c.id)
    INTO v_issued, v_codes FROM c;
  END IF;
  IF v_issued < p_quantity THEN
    RAISE EXCEPTION 'general path: codes' USING ERRCODE = 'CL100';
  END IF;

  -- a limited stock is counted last: the item's row stays locked only until the commit that follows
  IF v_item.stock IS NOT NULL THEN
    UPDATE catalogue_items SET sold = sold + p_quantity WHERE id = p_item_id AND sold + p_quantity <= stock;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'general path: stock' USING ERRCODE = 'CL100';
    END IF;
  END IF;

  v_answer := jsonb_build_object(
    'id', p_redemption_id,
    'itemId', p_item_id,
    'kind', v_item.kind,
    'status', 'completed',
    'quantity', p_quantity,
    'pointsSpent', round(v_price, 0)::text,
    'codes', v_codes,
    'balanceAfter', round(v_available, 0)::text,
    'transactionId', p_transaction_id,
    'createdAt', ledger_iso_time(v_now),
    'cancelledAt', NULL);
  UPDATE idempotency_keys k SET status = 201, response = v_answer WHERE k.scope = p_scope AND k.key = p_key;
  RETURN QUERY SELECT 'new'::text, p_hash, 201::smallint, v_answer;
END
$$;
