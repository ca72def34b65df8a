-- The journal partitioned by month (issue 22): ledger_transactions, ledger_postings and
-- ledger_lot_moves become PostgreSQL declarative RANGE partitions on their row's created_at (UTC
-- months), converted in place: each table is copied into its partitioned successor (identity
-- values kept, OVERRIDING SYSTEM VALUE; sequences continued), indexes are built per partition
-- after the copy, and the old table is dropped. See docs/operations.md (Journal partitions) for
-- the procedure and its time per million postings.
--
-- What is partitioned, and what is not (see docs/architecture notes in docs/operations.md):
--  * ledger_transactions, ledger_postings, ledger_lot_moves: append-only, grow with the journal,
--    carry created_at (a posting's and a lot move's created_at is its transaction's), and no
--    constraint we rely on is lost (below).
--  * not ledger_seal_entries: no created_at, and its UNIQUE (transaction_id) (a transaction is
--    sealed once) cannot hold across partitions; it is read by seal, and proofs of archived
--    months need it. Not ledger_lots (rows are updated: a lot's remaining), earn_events and
--    redemptions (state rows, updated; earn_events' (source, external id) dedupe must hold
--    forever), webhook_events / webhook_deliveries (an outbox referenced by deliveries' foreign
--    key; deliveries are updated).
--
-- Uniqueness and references of a transaction's id. A unique index on a partitioned table must
-- hold the partition key, so the journal's own keys become (id, created_at) and (id,
-- created_at) for postings. What must hold across the whole journal moves to
-- ledger_transaction_ids, one small unpartitioned row per transaction (id, created_at,
-- pending_id, reverses_id), written by a statement trigger in the same statement as the
-- transactions themselves:
--  * its primary key refuses a second transaction with the same id (whatever its month);
--  * ledger_transactions_settles_once / _reversed_once are its unique indexes, under the same
--    names (the service maps them to "settled / reversed meanwhile");
--  * pending_id and reverses_id reference its id, and so do earn_events.transaction_id (still
--    deferred to the commit), redemptions.transaction_id and refund_transaction_id;
--  * it stays when an old month is detached and archived, so that the ids stay unique and the
--    references stay valid.
-- seq stays the journal's order from its identity (GENERATED ALWAYS: only OVERRIDING SYSTEM
-- VALUE could repeat one); it is indexed per partition, no longer unique across partitions.
--
-- No DEFAULT partition: attaching a month beside one takes an ACCESS EXCLUSIVE lock on it and
-- scans it (waiting behind every long journal read), and a row that landed there would have to
-- be moved out of an append-only table later. Months are created ahead instead (the current one
-- and three more here; the service keeps three ahead at start and every six hours), and the
-- health and metrics endpoints show how many months are ready.

SET LOCAL maintenance_work_mem = '256MB';

LOCK TABLE ledger_transactions, ledger_postings, ledger_lot_moves, earn_events, redemptions IN ACCESS EXCLUSIVE MODE;

-- the functions that take a journal row type are made again for the new tables (same text)
DROP FUNCTION ledger_canonical(ledger_transactions, TEXT);
DROP FUNCTION ledger_posting_text(TEXT, ledger_postings);

ALTER TABLE earn_events DROP CONSTRAINT earn_events_transaction_id_fkey;
ALTER TABLE redemptions DROP CONSTRAINT redemptions_transaction_id_fkey;
ALTER TABLE redemptions DROP CONSTRAINT redemptions_refund_transaction_id_fkey;

ALTER TABLE ledger_transactions RENAME TO ledger_transactions_unpartitioned;
ALTER TABLE ledger_postings RENAME TO ledger_postings_unpartitioned;
ALTER TABLE ledger_lot_moves RENAME TO ledger_lot_moves_unpartitioned;
ALTER TABLE ledger_transactions_unpartitioned RENAME CONSTRAINT ledger_transactions_type_check TO ledger_transactions_unpartitioned_type_check;
ALTER TABLE ledger_transactions_unpartitioned RENAME CONSTRAINT ledger_transactions_kind_check TO ledger_transactions_unpartitioned_kind_check;
ALTER TABLE ledger_transactions_unpartitioned RENAME CONSTRAINT ledger_transactions_void_settles TO ledger_transactions_unpartitioned_void_settles;
ALTER TABLE ledger_transactions_unpartitioned RENAME CONSTRAINT ledger_transactions_expiry_pending TO ledger_transactions_unpartitioned_expiry_pending;
ALTER TABLE ledger_transactions_unpartitioned RENAME CONSTRAINT ledger_transactions_pending_plain TO ledger_transactions_unpartitioned_pending_plain;
ALTER INDEX ledger_transactions_pkey RENAME TO ledger_transactions_unpartitioned_pkey;
ALTER INDEX ledger_postings_pkey RENAME TO ledger_postings_unpartitioned_pkey;
ALTER INDEX ledger_lot_moves_pkey RENAME TO ledger_lot_moves_unpartitioned_pkey;

CREATE TABLE ledger_transactions (
  id            UUID NOT NULL,
  seq           BIGINT GENERATED ALWAYS AS IDENTITY,
  type          TEXT NOT NULL CONSTRAINT ledger_transactions_type_check CHECK (type ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  kind          TEXT NOT NULL CONSTRAINT ledger_transactions_kind_check CHECK (kind IN ('posted', 'pending', 'void')),
  pending_id    UUID,
  reverses_id   UUID,
  expires_at    TIMESTAMPTZ(6),
  metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,
  description   TEXT,
  effective_at  TIMESTAMPTZ(6) NOT NULL,
  created_at    TIMESTAMPTZ(6) NOT NULL,
  CONSTRAINT ledger_transactions_void_settles CHECK (kind <> 'void' OR pending_id IS NOT NULL),
  CONSTRAINT ledger_transactions_expiry_pending CHECK (expires_at IS NULL OR kind = 'pending'),
  CONSTRAINT ledger_transactions_pending_plain CHECK (kind <> 'pending' OR (pending_id IS NULL AND reverses_id IS NULL))
) PARTITION BY RANGE (created_at);

CREATE TABLE ledger_postings (
  id              BIGINT GENERATED ALWAYS AS IDENTITY,
  transaction_id  UUID NOT NULL,
  account_id      BIGINT NOT NULL,
  shard           SMALLINT NOT NULL,
  asset           TEXT NOT NULL,
  side            CHAR(1) NOT NULL CONSTRAINT ledger_postings_side_check CHECK (side IN ('D', 'C')),
  amount          NUMERIC NOT NULL CONSTRAINT ledger_postings_amount_check CHECK (amount > 0),
  pending         BOOLEAN NOT NULL,
  balance_after   NUMERIC,
  created_at      TIMESTAMPTZ(6) NOT NULL
) PARTITION BY RANGE (created_at);

CREATE TABLE ledger_lot_moves (
  id              BIGINT GENERATED ALWAYS AS IDENTITY,
  transaction_id  UUID NOT NULL,
  lot_id          BIGINT NOT NULL,
  amount          NUMERIC NOT NULL CONSTRAINT ledger_lot_moves_amount_check CHECK (amount <> 0),
  created_at      TIMESTAMPTZ(6) NOT NULL
) PARTITION BY RANGE (created_at);

-- One transaction id, once, across every month (see above). Append-only like the journal.
CREATE TABLE ledger_transaction_ids (
  id           UUID PRIMARY KEY,
  created_at   TIMESTAMPTZ(6) NOT NULL,
  pending_id   UUID REFERENCES ledger_transaction_ids (id),
  reverses_id  UUID REFERENCES ledger_transaction_ids (id)
);

-- The partitions of one month of the three journal tables (UTC months), for every month from
-- p_from's to p_from's plus p_ahead, those missing only. A month is made as a plain table and
-- then attached: ATTACH PARTITION takes only a SHARE UPDATE EXCLUSIVE lock on the journal
-- tables, so reads and writes go on meanwhile (CREATE TABLE ... PARTITION OF would take an
-- ACCESS EXCLUSIVE one and wait behind every long read). Each partition gets the statement
-- triggers that PostgreSQL does not clone from the parent: TRUNCATE refused, and for
-- transactions the id registry (a row inserted into the partition directly is registered too).
-- Returns the partitions it created.
CREATE FUNCTION ledger_partitions_ensure(p_from TIMESTAMPTZ, p_ahead INT) RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
  v_month TIMESTAMP;
  v_table TEXT;
  v_name TEXT;
BEGIN
  FOR v_month IN SELECT generate_series(date_trunc('month', p_from AT TIME ZONE 'UTC'),
                                        date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => p_ahead),
                                        interval '1 month') LOOP
    FOREACH v_table IN ARRAY ARRAY['ledger_transactions', 'ledger_postings', 'ledger_lot_moves'] LOOP
      v_name := v_table || '_y' || to_char(v_month, 'YYYY') || 'm' || to_char(v_month, 'MM');
      CONTINUE WHEN to_regclass(v_name) IS NOT NULL;
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name, v_table);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', v_table, v_name,
                     (v_month AT TIME ZONE 'UTC')::text, ((v_month + interval '1 month') AT TIME ZONE 'UTC')::text);
      EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change()',
                     v_name || '_no_truncate', v_name);
      IF v_table = 'ledger_transactions' THEN
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION ledger_transaction_ids_keep()', v_name || '_ids', v_name);
      END IF;
      RETURN NEXT v_name;
    END LOOP;
  END LOOP;
END
$$;

-- The journal's partitions: table, partition, the month it holds [from, to).
CREATE FUNCTION ledger_partitions() RETURNS TABLE (parent TEXT, name TEXT, from_at TIMESTAMPTZ, to_at TIMESTAMPTZ)
LANGUAGE sql STABLE AS $$
  SELECT p.relname::text, c.relname::text,
         substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''\)')::timestamptz,
         substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
  WHERE p.relname IN ('ledger_transactions', 'ledger_postings', 'ledger_lot_moves') AND p.relnamespace = c.relnamespace
    AND p.relnamespace = to_regnamespace(current_schema())::oid
  ORDER BY 1, 3
$$;

CREATE FUNCTION ledger_transaction_ids_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_transaction_ids (id, created_at, pending_id, reverses_id)
  SELECT n.id, n.created_at, n.pending_id, n.reverses_id FROM new_rows n;
  RETURN NULL;
END
$$;

-- every month the journal holds, up to three months ahead
DO $$
DECLARE
  v_from TIMESTAMPTZ := least(now(), (SELECT min(created_at) FROM ledger_transactions_unpartitioned),
                              (SELECT min(created_at) FROM ledger_postings_unpartitioned),
                              (SELECT min(created_at) FROM ledger_lot_moves_unpartitioned));
  v_age INTERVAL := age(date_trunc('month', now() AT TIME ZONE 'UTC'), date_trunc('month', v_from AT TIME ZONE 'UTC'));
BEGIN
  PERFORM ledger_partitions_ensure(v_from, (extract(year FROM v_age) * 12 + extract(month FROM v_age))::int + 3);
END
$$;

-- the rows, with their identity values (indexes are built after: faster than row by row)
INSERT INTO ledger_transactions
  (id, seq, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at) OVERRIDING SYSTEM VALUE
SELECT id, seq, type, kind, pending_id, reverses_id, expires_at, metadata, description, effective_at, created_at
FROM ledger_transactions_unpartitioned;
INSERT INTO ledger_postings
  (id, transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at) OVERRIDING SYSTEM VALUE
SELECT id, transaction_id, account_id, shard, asset, side, amount, pending, balance_after, created_at
FROM ledger_postings_unpartitioned;
INSERT INTO ledger_lot_moves (id, transaction_id, lot_id, amount, created_at) OVERRIDING SYSTEM VALUE
SELECT id, transaction_id, lot_id, amount, created_at FROM ledger_lot_moves_unpartitioned;

-- the identities go on from where the old tables' were
DO $$
DECLARE
  v_last BIGINT;
  v_called BOOLEAN;
  v_column RECORD;
BEGIN
  FOR v_column IN SELECT * FROM (VALUES ('ledger_transactions', 'seq'), ('ledger_postings', 'id'), ('ledger_lot_moves', 'id')) AS c(t, col) LOOP
    EXECUTE format('SELECT last_value, is_called FROM %s', pg_get_serial_sequence(v_column.t || '_unpartitioned', v_column.col))
      INTO v_last, v_called;
    PERFORM setval(pg_get_serial_sequence(v_column.t, v_column.col), v_last, v_called);
  END LOOP;
END
$$;

INSERT INTO ledger_transaction_ids (id, created_at, pending_id, reverses_id)
SELECT id, created_at, pending_id, reverses_id FROM ledger_transactions_unpartitioned;

DROP TABLE ledger_transactions_unpartitioned, ledger_postings_unpartitioned, ledger_lot_moves_unpartitioned;
-- the new identities' sequences under the names the old ones had
DO $$
DECLARE
  v_column RECORD;
BEGIN
  FOR v_column IN SELECT * FROM (VALUES ('ledger_transactions', 'seq'), ('ledger_postings', 'id'), ('ledger_lot_moves', 'id')) AS c(t, col) LOOP
    IF (SELECT c.relname FROM pg_class c WHERE c.oid = pg_get_serial_sequence(v_column.t, v_column.col)::regclass)
       <> v_column.t || '_' || v_column.col || '_seq' THEN
      EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', pg_get_serial_sequence(v_column.t, v_column.col), v_column.t || '_' || v_column.col || '_seq');
    END IF;
  END LOOP;
END
$$;

-- keys and indexes, per partition (partitioned indexes)
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_pkey PRIMARY KEY (id, created_at);
CREATE INDEX ledger_transactions_seq_idx ON ledger_transactions (seq);
CREATE INDEX ledger_transactions_created_idx ON ledger_transactions (created_at);
CREATE INDEX ledger_transactions_open_holds_idx ON ledger_transactions (expires_at) WHERE kind = 'pending' AND expires_at IS NOT NULL;
-- lookups of a hold's settlement and a transaction's reversal (their uniqueness: ledger_transaction_ids)
CREATE INDEX ledger_transactions_pending_idx ON ledger_transactions (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transactions_reverses_idx ON ledger_transactions (reverses_id) WHERE reverses_id IS NOT NULL;

ALTER TABLE ledger_postings ADD CONSTRAINT ledger_postings_pkey PRIMARY KEY (id, created_at);
CREATE INDEX ledger_postings_transaction_idx ON ledger_postings (transaction_id);
CREATE INDEX ledger_postings_account_idx ON ledger_postings (account_id, id);

ALTER TABLE ledger_lot_moves ADD CONSTRAINT ledger_lot_moves_pkey PRIMARY KEY (id, created_at);
CREATE INDEX ledger_lot_moves_transaction_idx ON ledger_lot_moves (transaction_id);
CREATE INDEX ledger_lot_moves_lot_idx ON ledger_lot_moves (lot_id);

CREATE UNIQUE INDEX ledger_transactions_settles_once ON ledger_transaction_ids (pending_id) WHERE pending_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_transactions_reversed_once ON ledger_transaction_ids (reverses_id) WHERE reverses_id IS NOT NULL;

ALTER TABLE earn_events ADD CONSTRAINT earn_events_transaction_id_fkey
  FOREIGN KEY (transaction_id) REFERENCES ledger_transaction_ids (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE redemptions ADD CONSTRAINT redemptions_transaction_id_fkey
  FOREIGN KEY (transaction_id) REFERENCES ledger_transaction_ids (id);
ALTER TABLE redemptions ADD CONSTRAINT redemptions_refund_transaction_id_fkey
  FOREIGN KEY (refund_transaction_id) REFERENCES ledger_transaction_ids (id);

-- append-only: row triggers are cloned to every partition, present and future; TRUNCATE
-- triggers are statement triggers, on the parent and (ledger_partitions_ensure) on each partition
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_lot_moves_append_only BEFORE UPDATE OR DELETE ON ledger_lot_moves
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_lot_moves_no_truncate BEFORE TRUNCATE ON ledger_lot_moves
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_transaction_ids_append_only BEFORE UPDATE OR DELETE ON ledger_transaction_ids
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_transaction_ids_no_truncate BEFORE TRUNCATE ON ledger_transaction_ids
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
-- every transaction written through the journal registers its id, in the same statement
CREATE TRIGGER ledger_transactions_ids AFTER INSERT ON ledger_transactions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_transaction_ids_keep();

-- as in 20261122070000_canonical_inlined and 20261122050000_seals, on the new row types
CREATE FUNCTION ledger_canonical(t ledger_transactions, postings TEXT) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT t.id::text || '|' || t.type || '|' || t.kind || '|' || coalesce(t.pending_id::text, '') || '|' ||
    coalesce(t.reverses_id::text, '') || '|' || t.metadata::text || '|' || coalesce(t.description, '') || '|' ||
    -- times as microseconds since the Unix epoch (UTC)
    (extract(epoch FROM t.effective_at) * 1000000)::bigint::text || '|' ||
    (extract(epoch FROM t.created_at) * 1000000)::bigint::text || '|' || coalesce(postings, '')
$$;

CREATE FUNCTION ledger_posting_text(code TEXT, p ledger_postings) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT code || ':' || p.asset || ':' || p.side || ':' || p.amount::text || ':' || p.pending::text
$$;

-- A transaction's canonical content (20261122050000_seals), read from its own month only: the
-- registry gives its created_at, which its postings share (one statement writes them). Same text.
CREATE OR REPLACE FUNCTION ledger_transaction_canonical(p_id UUID) RETURNS TEXT
LANGUAGE sql STABLE AS $$
  SELECT ledger_canonical(t, (
    SELECT string_agg(ledger_posting_text(a.code, p), ';' ORDER BY p.id)
    FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
    WHERE p.transaction_id = t.id AND p.created_at = t.created_at))
  FROM ledger_transactions t
  WHERE t.id = p_id AND t.created_at = (SELECT i.created_at FROM ledger_transaction_ids i WHERE i.id = p_id)
$$;
