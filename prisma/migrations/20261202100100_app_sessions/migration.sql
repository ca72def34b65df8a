-- Sessions of the pages under /app: a browser holds a random token in an httpOnly cookie; only
-- its SHA-256 is stored. A session is a resident's (from a city token) or an API client's (from
-- its key: the session ends when the key is revoked, since every request joins api_clients).
-- The bootstrap admin key has no row: its session keeps the key's hash to compare with the
-- configured one. Expired rows are deleted by the service as it goes.

CREATE TABLE app_sessions (
  token_hash      TEXT PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  kind            TEXT NOT NULL CHECK (kind IN ('resident', 'client')),
  resident_id     TEXT,
  api_client_id   UUID REFERENCES api_clients (id) ON DELETE CASCADE,
  bootstrap_hash  TEXT,
  created_at      TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  last_seen_at    TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  expires_at      TIMESTAMPTZ(6) NOT NULL,
  CONSTRAINT app_sessions_principal CHECK (
    CASE kind
      WHEN 'resident' THEN resident_id IS NOT NULL AND api_client_id IS NULL AND bootstrap_hash IS NULL
      ELSE resident_id IS NULL AND ((api_client_id IS NULL) <> (bootstrap_hash IS NULL))
    END)
);
CREATE INDEX app_sessions_expires_idx ON app_sessions (expires_at);
CREATE INDEX app_sessions_client_idx ON app_sessions (api_client_id);
