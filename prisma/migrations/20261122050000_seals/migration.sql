-- Tamper evidence. Every transaction has a hash of its canonical content (the function below);
-- a seal job, periodically and before each reconciliation, records the hashes of the
-- transactions created in its window (seal_entries) and chains them into a seal: the Merkle
-- root of the window, hashed with the previous seal's hash. Changing, adding or removing a
-- sealed row changes a recomputed hash; changing a seal breaks the chain. Both are append-only.

-- The canonical content of a transaction: its fields and its postings in order, as text.
-- ledger_canonical() builds it from a row and its postings' text, so that the reconciliation
-- can hash the whole journal in one pass (set-based) with the very same definition.
CREATE FUNCTION ledger_canonical(t ledger_transactions, postings TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT t.id::text || '|' || t.type || '|' || t.kind || '|' || coalesce(t.pending_id::text, '') || '|' ||
    coalesce(t.reverses_id::text, '') || '|' || t.metadata::text || '|' || coalesce(t.description, '') || '|' ||
    -- times as microseconds since the Unix epoch (UTC)
    (extract(epoch FROM t.effective_at) * 1000000)::bigint::text || '|' ||
    (extract(epoch FROM t.created_at) * 1000000)::bigint::text || '|' || coalesce(postings, '')
$$;

-- A posting as it appears in the canonical content.
CREATE FUNCTION ledger_posting_text(code TEXT, p ledger_postings) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT code || ':' || p.asset || ':' || p.side || ':' || p.amount::text || ':' || p.pending::text
$$;

CREATE FUNCTION ledger_transaction_canonical(p_id UUID) RETURNS TEXT
LANGUAGE sql STABLE AS $$
  SELECT ledger_canonical(t, (
    SELECT string_agg(ledger_posting_text(a.code, p), ';' ORDER BY p.id)
    FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id WHERE p.transaction_id = t.id))
  FROM ledger_transactions t WHERE t.id = p_id
$$;

-- sha256 of the canonical content, hex: what seals record.
CREATE FUNCTION ledger_transaction_hash(p_id UUID) RETURNS TEXT
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(ledger_transaction_canonical(p_id), 'UTF8')), 'hex')
$$;

CREATE TABLE ledger_seals (
  id            BIGINT PRIMARY KEY,
  -- the window sealed: transactions created in [covers_from, covers_to)
  covers_from   TIMESTAMPTZ(6) NOT NULL,
  covers_to     TIMESTAMPTZ(6) NOT NULL,
  transactions  INT NOT NULL CHECK (transactions >= 0),
  merkle_root   CHAR(64) NOT NULL,
  previous_hash CHAR(64) NOT NULL,
  hash          CHAR(64) NOT NULL,
  created_at    TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT ledger_seals_window CHECK (covers_to > covers_from)
);

CREATE TABLE ledger_seal_entries (
  seal_id         BIGINT NOT NULL REFERENCES ledger_seals (id),
  position        INT NOT NULL,
  transaction_id  UUID NOT NULL UNIQUE,
  hash            CHAR(64) NOT NULL,
  PRIMARY KEY (seal_id, position)
);

CREATE TRIGGER ledger_seals_append_only BEFORE UPDATE OR DELETE ON ledger_seals
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_seals_no_truncate BEFORE TRUNCATE ON ledger_seals
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_seal_entries_append_only BEFORE UPDATE OR DELETE ON ledger_seal_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER ledger_seal_entries_no_truncate BEFORE TRUNCATE ON ledger_seal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
