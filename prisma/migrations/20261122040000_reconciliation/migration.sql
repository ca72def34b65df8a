-- Reconciliation runs: the nightly proof of the books, and runs started by auditors. The
-- report is stored with every check's outcome; a run is written once when it ends.
CREATE TABLE reconciliations (
  id             UUID PRIMARY KEY,
  status         TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
  trigger        TEXT NOT NULL CHECK (trigger IN ('scheduled', 'manual')),
  -- the schedule's firing this run answers: unique, so that of several replicas one runs it
  scheduled_for  TIMESTAMPTZ(6) UNIQUE,
  requested_by   TEXT,
  checks         JSONB NOT NULL DEFAULT '[]'::jsonb,
  started_at     TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  finished_at    TIMESTAMPTZ(6)
);
CREATE INDEX reconciliations_started_idx ON reconciliations (started_at DESC);
