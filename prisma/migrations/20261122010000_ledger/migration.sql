-- The ledger: assets, accounts, the append-only journal (transactions and their postings),
-- running balances kept in the same database transaction as the postings, and idempotency keys.
-- Written by hand: the CHECK constraints, partial unique indexes, append-only triggers and the
-- recording function cannot be expressed in schema.prisma.

CREATE TABLE assets (
  code        TEXT PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,15}$'),
  scale       SMALLINT NOT NULL CHECK (scale BETWEEN 0 AND 8),
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);
-- POINTS are whole points; RUB (kopecks) is there for partner settlements.
INSERT INTO assets (code, scale) VALUES ('POINTS', 0), ('RUB', 2);

-- An account holds one asset. `normal_side` says which side increases its balance as shown
-- (a resident's points are a credit balance: `programme:issued` is debited when they are
-- earned). `floor_zero` accounts (residents) may never go below zero. Unbounded system
-- accounts keep their running balance in `shards` rows, so that the many transactions that
-- touch `programme:issued` at once do not all wait on one row lock.
CREATE TABLE ledger_accounts (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code         TEXT NOT NULL CHECK (char_length(code) BETWEEN 3 AND 200),
  asset        TEXT NOT NULL REFERENCES assets (code),
  normal_side  CHAR(1) NOT NULL CHECK (normal_side IN ('D', 'C')),
  floor_zero   BOOLEAN NOT NULL,
  shards       SMALLINT NOT NULL CHECK (shards BETWEEN 1 AND 64),
  created_at   TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT ledger_accounts_code_asset_key UNIQUE (code, asset),
  -- an account that may not go negative has one balance row, checked under its row lock
  CONSTRAINT ledger_accounts_floor_single_shard CHECK (NOT floor_zero OR shards = 1)
);

-- The journal. Rows are never updated or deleted (triggers below). A pending (two-phase)
-- transaction is settled by a later row that names it in `pending_id`: kind 'posted' to post
-- all or part of it, kind 'void' to release it (voided, or expired by the sweeper). A reversal
-- is a new posted transaction naming the original in `reverses_id`. The unique indexes make a
-- second settlement or a second reversal impossible, however many requests race.
CREATE TABLE ledger_transactions (
  id            UUID PRIMARY KEY,
  seq           BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  type          TEXT NOT NULL CHECK (type ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  kind          TEXT NOT NULL CHECK (kind IN ('posted', 'pending', 'void')),
  pending_id    UUID REFERENCES ledger_transactions (id),
  reverses_id   UUID REFERENCES ledger_transactions (id),
  expires_at    TIMESTAMPTZ(6),
  metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,
  description   TEXT,
  effective_at  TIMESTAMPTZ(6) NOT NULL,
  created_at    TIMESTAMPTZ(6) NOT NULL,
  CONSTRAINT ledger_transactions_void_settles CHECK (kind <> 'void' OR pending_id IS NOT NULL),
  CONSTRAINT ledger_transactions_expiry_pending CHECK (expires_at IS NULL OR kind = 'pending'),
  CONSTRAINT ledger_transactions_pending_plain CHECK (kind <> 'pending' OR (pending_id IS NULL AND reverses_id IS NULL))
);
CREATE UNIQUE INDEX ledger_transactions_settles_once ON ledger_transactions (pending_id) WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_transactions_reversed_once ON ledger_transactions (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE INDEX ledger_transactions_created_idx ON ledger_transactions (created_at);
CREATE INDEX ledger_transactions_open_holds_idx ON ledger_transactions (expires_at) WHERE kind = 'pending' AND expires_at IS NOT NULL;

-- Postings are written only by ledger_record and ledger_record_many, in the same statement as
-- their transaction and after their accounts' balance rows: no per-row foreign-key triggers
-- (measured: a third of the cost of writing a posting). The nightly reconciliation checks that
-- every posting names an existing transaction, account and asset.
CREATE TABLE ledger_postings (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  UUID NOT NULL,
  account_id      BIGINT NOT NULL,
  -- the balance row of the account that this posting changed (a hold is released from the same row)
  shard           SMALLINT NOT NULL,
  asset           TEXT NOT NULL,
  side            CHAR(1) NOT NULL CHECK (side IN ('D', 'C')),
  amount          NUMERIC NOT NULL CHECK (amount > 0),
  -- a posting of a pending transaction: reserved, not (yet) part of the posted balance
  pending         BOOLEAN NOT NULL,
  -- the account's posted balance (normal side) after the transaction, for single-row accounts
  balance_after   NUMERIC,
  created_at      TIMESTAMPTZ(6) NOT NULL
);
CREATE INDEX ledger_postings_transaction_idx ON ledger_postings (transaction_id);
-- an account's entries in order: history pages, balances as of a moment
CREATE INDEX ledger_postings_account_idx ON ledger_postings (account_id, id);

CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();

-- Running balances, kept by ledger_record() in the same transaction as the postings.
-- Debits and credits are kept apart (they only grow), posted and pending apart.
CREATE TABLE account_balances (
  account_id       BIGINT NOT NULL REFERENCES ledger_accounts (id),
  shard            SMALLINT NOT NULL,
  normal_side      CHAR(1) NOT NULL,
  floor_zero       BOOLEAN NOT NULL,
  debits_posted    NUMERIC NOT NULL DEFAULT 0,
  credits_posted   NUMERIC NOT NULL DEFAULT 0,
  debits_pending   NUMERIC NOT NULL DEFAULT 0,
  credits_pending  NUMERIC NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, shard),
  CONSTRAINT account_balances_pending_non_negative CHECK (debits_pending >= 0 AND credits_pending >= 0),
  -- the last line of defence: no code path can take a resident below zero
  CONSTRAINT account_balances_no_overdraft CHECK (
    NOT floor_zero OR CASE normal_side
      WHEN 'C' THEN credits_posted - debits_posted - debits_pending
      ELSE debits_posted - credits_posted - credits_pending
    END >= 0
  )
);

-- Records one transaction: the journal row, its postings and the balance changes, in one
-- statement (one round trip). `d_*` are the balance changes per (account, shard), which the
-- caller sorts by (account, shard): every transaction takes its row locks in that one order,
-- so transactions never deadlock. A change that would take a floor-zero account below zero
-- raises SQLSTATE CL001 and nothing of the transaction remains. Returns the available balances
-- of the floor-zero accounts after the transaction (what a resident can still spend).
CREATE FUNCTION ledger_record(
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
      RAISE EXCEPTION 'insufficient balance on ledger account %', d_accounts[i]
        USING ERRCODE = 'CL001', DETAIL = d_accounts[i]::text;
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

-- Idempotency: one row per (client, key) with a hash of the request and the answer given. The
-- row is written in the same database transaction as the work it guards, so a concurrent
-- request with the same key waits for that transaction and then replays its answer.
CREATE TABLE idempotency_keys (
  scope         TEXT NOT NULL,
  key           TEXT NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  request_hash  CHAR(64) NOT NULL,
  status        SMALLINT,
  response      JSONB,
  created_at    TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
