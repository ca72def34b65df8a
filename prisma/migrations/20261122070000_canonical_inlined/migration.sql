-- The same canonical content of a transaction, declared STABLE instead of IMMUTABLE: its body
-- uses extract(epoch FROM timestamptz), which PostgreSQL marks STABLE, so an IMMUTABLE
-- declaration kept the planner from inlining it, and every call went through the SQL-function
-- executor (about 6 µs a transaction: half the cost of re-hashing the journal). The text it
-- returns, and so every hash already sealed, is unchanged.
CREATE OR REPLACE FUNCTION ledger_canonical(t ledger_transactions, postings TEXT) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT t.id::text || '|' || t.type || '|' || t.kind || '|' || coalesce(t.pending_id::text, '') || '|' ||
    coalesce(t.reverses_id::text, '') || '|' || t.metadata::text || '|' || coalesce(t.description, '') || '|' ||
    -- times as microseconds since the Unix epoch (UTC)
    (extract(epoch FROM t.effective_at) * 1000000)::bigint::text || '|' ||
    (extract(epoch FROM t.created_at) * 1000000)::bigint::text || '|' || coalesce(postings, '')
$$;
