-- Reconciliation whose nightly cost follows the day, and balances as of a moment that start from
-- a checkpoint (issue 22).
--
-- * reconciliations.scope: 'incremental' (what changed since the last passed run) or 'full'
--   (everything, month by month). high_water is the moment up to which a run verified the journal
--   (the end of the last seal when it started: everything created before it was committed and
--   sealed); the next incremental run starts there. last_seal and posting_floor are its seal and
--   posting high-water marks (see ReconciliationService). covered says what the run read; progress
--   keeps a full run's finished months and steps, so that its re-run after a crash goes on from them.
--   Runs recorded before this migration read the whole journal: they are full runs, with no mark.
-- * ledger_balance_checkpoints: an account's sums (over its balance rows) of the postings created
--   before as_of: posted debits and credits, and pending ones not settled before as_of. A month's
--   checkpoint (as_of the first instant of a UTC month, listed in ledger_checkpoint_months) has a
--   row for every account used before it; a passed reconciliation adds rows at its high_water for
--   the accounts the journal touched in its window. Written only by the ledger's checkpoint job and
--   the reconciliation; verified against the journal by the full run (checkpoints_match_journal).

ALTER TABLE reconciliations
  ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('incremental', 'full')),
  ADD COLUMN high_water TIMESTAMPTZ(6),
  ADD COLUMN last_seal BIGINT,
  ADD COLUMN posting_floor BIGINT,
  ADD COLUMN covered JSONB,
  ADD COLUMN progress JSONB NOT NULL DEFAULT '{}';
ALTER TABLE reconciliations ALTER COLUMN scope SET DEFAULT 'incremental';

-- the last passed run's marks are what an incremental run starts from
CREATE INDEX reconciliations_passed_idx ON reconciliations (high_water DESC) WHERE status = 'passed' AND high_water IS NOT NULL;

CREATE TABLE ledger_balance_checkpoints (
  account_id      BIGINT NOT NULL,
  as_of           TIMESTAMPTZ(6) NOT NULL,
  debits_posted   NUMERIC NOT NULL,
  credits_posted  NUMERIC NOT NULL,
  debits_pending  NUMERIC NOT NULL,
  credits_pending NUMERIC NOT NULL,
  PRIMARY KEY (account_id, as_of)
);
-- a month's checkpoint read whole (trial balance as of a moment)
CREATE INDEX ledger_balance_checkpoints_as_of_idx ON ledger_balance_checkpoints (as_of);

CREATE TABLE ledger_checkpoint_months (
  as_of     TIMESTAMPTZ(6) PRIMARY KEY,
  accounts  INTEGER NOT NULL,
  made_at   TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

-- An account's pending postings without reading its whole history (a balance as of a moment sums
-- them apart from the posted ones, which start from a checkpoint): pending postings are few, so
-- this index costs only the writes of holds. Building it reads ledger_postings once.
CREATE INDEX ledger_postings_pending_idx ON ledger_postings (account_id, id) WHERE pending;
