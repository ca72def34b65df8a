-- Foundation: the programme's participation services and partners, API clients (keys stored
-- only as hashes), and an append-only log of administrative actions.
-- Written by hand: Prisma cannot express the CHECK constraints and the append-only trigger.

-- Refuses any change to a journal row. Journal tables are append-only: a correction is a new
-- row (for the ledger, a reversing transaction), never an UPDATE or DELETE.
CREATE FUNCTION refuse_journal_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TABLE sources (
  id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

CREATE TABLE partners (
  id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  kind        TEXT NOT NULL CHECK (kind IN ('shop', 'cafe', 'museum', 'park', 'charity', 'other')),
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

CREATE TABLE api_clients (
  id          UUID PRIMARY KEY,
  name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  role        TEXT NOT NULL CHECK (role IN ('source', 'partner', 'auditor', 'admin')),
  source_id   TEXT REFERENCES sources (id),
  partner_id  TEXT REFERENCES partners (id),
  -- sha256 of the key, hex. The key itself is shown once at creation and never stored.
  key_hash    CHAR(64) NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  -- the first characters of the key, so that people can tell their keys apart
  key_prefix  TEXT NOT NULL,
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  revoked_at  TIMESTAMPTZ(6),
  -- a source key is bound to exactly one source, a partner key to one partner, others to neither
  CONSTRAINT api_clients_binding CHECK (
    (role = 'source') = (source_id IS NOT NULL) AND (role = 'partner') = (partner_id IS NOT NULL)
  )
);
CREATE INDEX api_clients_source_idx ON api_clients (source_id) WHERE source_id IS NOT NULL;
CREATE INDEX api_clients_partner_idx ON api_clients (partner_id) WHERE partner_id IS NOT NULL;

-- Who did what in the programme's administration (created a source, issued or revoked a key).
CREATE TABLE admin_actions (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  details     JSONB NOT NULL DEFAULT '{}'::jsonb,
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);
CREATE INDEX admin_actions_created_idx ON admin_actions (created_at);

CREATE TRIGGER admin_actions_append_only BEFORE UPDATE OR DELETE ON admin_actions
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER admin_actions_no_truncate BEFORE TRUNCATE ON admin_actions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_journal_change();
