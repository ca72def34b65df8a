-- Earning: rules and campaigns, the durable inbox of earn events, per-resident cap usage, and
-- the ledger's batch recording function used to post many accruals in one statement.

CREATE TABLE earning_rules (
  id                     TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  source_id              TEXT NOT NULL REFERENCES sources (id),
  event_type             TEXT NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  title                  TEXT,
  points                 NUMERIC NOT NULL CHECK (points > 0 AND points = trunc(points)),
  -- a rule with a range takes each event's points from its attributes.points, within the range
  min_points             NUMERIC CHECK (min_points > 0 AND min_points = trunc(min_points)),
  max_points             NUMERIC CHECK (max_points = trunc(max_points)),
  requires_confirmation  BOOLEAN NOT NULL DEFAULT false,
  daily_cap              NUMERIC CHECK (daily_cap > 0 AND daily_cap = trunc(daily_cap)),
  monthly_cap            NUMERIC CHECK (monthly_cap > 0 AND monthly_cap = trunc(monthly_cap)),
  valid_from             TIMESTAMPTZ(6),
  valid_to               TIMESTAMPTZ(6),
  created_at             TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at             TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT earning_rules_range CHECK ((min_points IS NULL) = (max_points IS NULL) AND (max_points IS NULL OR max_points >= min_points)),
  CONSTRAINT earning_rules_window CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from)
);
CREATE INDEX earning_rules_lookup_idx ON earning_rules (source_id, event_type);

CREATE TABLE campaigns (
  id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  source_id   TEXT REFERENCES sources (id),
  event_type  TEXT,
  multiplier  NUMERIC NOT NULL CHECK (multiplier > 0 AND multiplier <= 100),
  valid_from  TIMESTAMPTZ(6) NOT NULL,
  valid_to    TIMESTAMPTZ(6) NOT NULL,
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT campaigns_window CHECK (valid_to > valid_from)
);

-- The inbox. An accepted event is stored here before the 202 answer; its status then moves
-- received -> posted | pending | rejected, pending -> posted | rejected, posted -> revoked.
-- The journal holds the money; this table holds the events' state.
CREATE TABLE earn_events (
  id               UUID PRIMARY KEY,
  -- arrival order (not indexed: every index is rewritten when an event changes status)
  seq              BIGINT GENERATED ALWAYS AS IDENTITY,
  source_id        TEXT NOT NULL REFERENCES sources (id),
  external_id      TEXT NOT NULL CHECK (char_length(external_id) BETWEEN 1 AND 200),
  type             TEXT NOT NULL,
  resident_id      TEXT NOT NULL,
  occurred_at      TIMESTAMPTZ(6) NOT NULL,
  requested_status TEXT NOT NULL CHECK (requested_status IN ('confirmed', 'pending')),
  attributes       JSONB NOT NULL DEFAULT '{}'::jsonb,
  status           TEXT NOT NULL CHECK (status IN ('received', 'pending', 'posted', 'rejected', 'revoked')),
  reason           TEXT,
  rule_id          TEXT REFERENCES earning_rules (id),
  points           NUMERIC CHECK (points >= 0),
  transaction_id   UUID REFERENCES ledger_transactions (id),
  received_at      TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  processed_at     TIMESTAMPTZ(6),
  CONSTRAINT earn_events_source_external_key UNIQUE (source_id, external_id)
);
-- what the sweeper looks for: accepted events not processed yet
CREATE INDEX earn_events_unprocessed_idx ON earn_events (received_at) WHERE status = 'received';

-- Points granted per resident, rule and calendar period (Europe/Moscow): 'D2026-11-22', 'M2026-11'.
CREATE TABLE earn_cap_usage (
  resident_id  TEXT NOT NULL,
  rule_id      TEXT NOT NULL REFERENCES earning_rules (id),
  period       TEXT NOT NULL,
  points       NUMERIC NOT NULL DEFAULT 0 CHECK (points >= 0),
  PRIMARY KEY (resident_id, rule_id, period)
);

-- Records many transactions at once (a batch of accruals): journal rows, postings and the
-- summed balance changes, in one statement. Balance rows are locked first, in (account, shard)
-- order, like ledger_record. The caller guarantees that no posting debits a floor-zero account
-- (accruals only credit residents), so the summed change cannot hide an overdraft; the check
-- is made all the same. balance_after is each posting's own running balance within the batch.
CREATE FUNCTION ledger_record_many(
  t_ids UUID[], t_types TEXT[], t_kinds TEXT[], t_metadata JSONB[], t_descriptions TEXT[],
  p_tx INT[], p_accounts BIGINT[], p_shards SMALLINT[], p_assets TEXT[], p_sides TEXT[], p_amounts NUMERIC[],
  d_accounts BIGINT[], d_shards SMALLINT[], d_debits NUMERIC[], d_credits NUMERIC[],
  d_debits_pending NUMERIC[], d_credits_pending NUMERIC[]
) RETURNS TABLE (id UUID, created_at TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
DECLARE
  v_created TIMESTAMPTZ := clock_timestamp();
  v_expected INT := coalesce(array_length(d_accounts, 1), 0);
  v_updated INT;
  v_after_accounts BIGINT[];
  v_afters NUMERIC[];
BEGIN
  PERFORM 1 FROM account_balances b
  JOIN unnest(d_accounts, d_shards) AS d(account_id, shard) ON b.account_id = d.account_id AND b.shard = d.shard
  ORDER BY b.account_id, b.shard
  FOR UPDATE OF b;

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
      CASE b.normal_side WHEN 'C' THEN b.credits_posted - b.debits_posted ELSE b.debits_posted - b.credits_posted END AS after
  )
  SELECT count(*), coalesce(array_agg(u.account_id) FILTER (WHERE u.floor_zero), '{}'),
         coalesce(array_agg(u.after) FILTER (WHERE u.floor_zero), '{}')
  INTO v_updated, v_after_accounts, v_afters
  FROM updated u;
  IF v_updated <> v_expected THEN
    RAISE EXCEPTION 'insufficient balance in batch' USING ERRCODE = 'CL001';
  END IF;

  INSERT INTO ledger_transactions AS t (id, type, kind, metadata, description, effective_at, created_at)
  SELECT x.id, x.type, x.kind, coalesce(x.metadata, '{}'::jsonb), x.description, v_created, v_created
  FROM unnest(t_ids, t_types, t_kinds, t_metadata, t_descriptions) WITH ORDINALITY AS x(id, type, kind, metadata, description, n)
  ORDER BY x.n;

  -- joined, not subscripted: t_ids[p.tx] on a large array would unpack it again for every row
  INSERT INTO ledger_postings (transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at)
  SELECT x.id, p.account_id, p.shard, p.asset, p.side, p.amount, x.kind = 'pending',
    CASE WHEN a.account_id IS NULL THEN NULL ELSE a.after - coalesce(sum(
      CASE WHEN x.kind = 'pending' THEN 0
           WHEN (p.side = 'C') = (acc.normal_side = 'C') THEN p.amount ELSE -p.amount END
    ) OVER (PARTITION BY p.account_id ORDER BY p.n DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) END,
    v_created
  FROM unnest(p_tx, p_accounts, p_shards, p_assets, p_sides, p_amounts) WITH ORDINALITY AS p(tx, account_id, shard, asset, side, amount, n)
  JOIN unnest(t_ids, t_kinds) WITH ORDINALITY AS x(id, kind, n) ON x.n = p.tx
  JOIN ledger_accounts acc ON acc.id = p.account_id
  LEFT JOIN unnest(v_after_accounts, v_afters) AS a(account_id, after) ON a.account_id = p.account_id
  ORDER BY p.n;

  RETURN QUERY SELECT x.id, v_created FROM unnest(t_ids) AS x(id);
END
$$;
