-- Bulk awards: an upload of (resident, points, reference) rows, validated and stored first,
-- credited later in chunks through the ledger's door, each row exactly once.
--
-- A row is keyed by award, resident and reference (award_rows_once): the same resident twice
-- with the same reference is one row, the later lines refused as duplicates. A row is credited
-- in the database transaction that writes its ledger transaction (whose id is derived from that
-- key, so a second credit of it would also collide on the journal's primary key) and marks it
-- credited; an execution that dies loses its uncommitted chunk and nothing else.

CREATE TABLE awards (
  id              UUID PRIMARY KEY,
  description     TEXT NOT NULL CHECK (char_length(description) BETWEEN 1 AND 200),
  status          TEXT NOT NULL CHECK (status IN ('validating', 'ready', 'running', 'done', 'failed')),
  expires_at      TIMESTAMPTZ(6),
  budget          NUMERIC CHECK (budget > 0),
  row_count       INT NOT NULL DEFAULT 0 CHECK (row_count >= 0),
  valid           INT NOT NULL DEFAULT 0 CHECK (valid >= 0),
  invalid         INT NOT NULL DEFAULT 0 CHECK (invalid >= 0),
  total_points    NUMERIC NOT NULL DEFAULT 0 CHECK (total_points >= 0),
  credited        INT NOT NULL DEFAULT 0 CHECK (credited >= 0),
  failed          INT NOT NULL DEFAULT 0 CHECK (failed >= 0),
  credited_points NUMERIC NOT NULL DEFAULT 0 CHECK (credited_points >= 0),
  -- sha256 of every uploaded row as sent: a second award of the same file and description is
  -- accepted with a warning naming the first (duplicate_of)
  content_hash    TEXT,
  duplicate_of    UUID REFERENCES awards (id),
  created_by      TEXT NOT NULL,
  -- while a process executes the award: until when it holds it (renewed with every chunk)
  leased_until    TIMESTAMPTZ(6),
  error           TEXT CHECK (char_length(error) <= 1000),
  created_at      TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at      TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  started_at      TIMESTAMPTZ(6),
  completed_at    TIMESTAMPTZ(6)
);
CREATE INDEX awards_created_idx ON awards (created_at DESC, id DESC);
CREATE INDEX awards_running_idx ON awards (leased_until) WHERE status IN ('running', 'validating');
CREATE INDEX awards_content_idx ON awards (content_hash) WHERE content_hash IS NOT NULL;

-- The valid rows, one per (award, resident, reference).
CREATE TABLE award_rows (
  award_id        UUID NOT NULL REFERENCES awards (id) ON DELETE CASCADE,
  line            INT NOT NULL CHECK (line > 0),
  resident_id     TEXT NOT NULL,
  reference       TEXT NOT NULL DEFAULT '',
  points          NUMERIC NOT NULL CHECK (points > 0),
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'credited', 'failed')),
  -- the ledger transaction that credited it (no foreign key: written in the same transaction as
  -- it; the id is derived from the row's key)
  transaction_id  UUID,
  reason          TEXT,
  PRIMARY KEY (award_id, line),
  CONSTRAINT award_rows_once UNIQUE (award_id, resident_id, reference),
  CONSTRAINT award_rows_credited CHECK ((status = 'credited') = (transaction_id IS NOT NULL))
);
-- what is left to credit, in line order
CREATE INDEX award_rows_pending_idx ON award_rows (award_id, line) WHERE status = 'pending';

-- Lines refused at upload, as they were sent, with the reason: the award's error file.
CREATE TABLE award_refusals (
  award_id     UUID NOT NULL REFERENCES awards (id) ON DELETE CASCADE,
  line         INT NOT NULL CHECK (line > 0),
  resident_id  TEXT,
  points       TEXT,
  reference    TEXT,
  reason       TEXT NOT NULL,
  detail       TEXT NOT NULL,
  PRIMARY KEY (award_id, line)
);

-- award.completed: an award that reaches done, through the transactional outbox (see
-- 20261202150000_webhooks): written in the transaction that marks it done.
CREATE FUNCTION webhook_awards() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_types TEXT[]; v_data JSONB[]; v_none TEXT[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['award.completed']) THEN
    RETURN NULL;
  END IF;
  SELECT array_agg('award.completed'::text ORDER BY n.completed_at, n.id),
         array_agg(jsonb_build_object(
           'id', n.id, 'description', n.description, 'rows', n.row_count, 'credited', n.credited, 'failed', n.failed,
           'totalPoints', n.total_points::text, 'completedAt', webhook_iso_time(n.completed_at)) ORDER BY n.completed_at, n.id)
  INTO v_types, v_data
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.status = 'done' AND o.status <> 'done';
  IF v_types IS NULL THEN
    RETURN NULL;
  END IF;
  v_none := array_fill(NULL::text, ARRAY[cardinality(v_types)]);
  PERFORM webhook_publish(v_types, v_none, v_none, v_none, v_data);
  RETURN NULL;
END $$;

CREATE TRIGGER awards_webhooks_update AFTER UPDATE ON awards
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_awards();
