-- Past one process (issue 21).
--
-- * schedule_leases: who runs each scheduled job right now. A process holds a job's lease while it
--   renews it; when it dies the lease runs out and the next process whose schedule fires takes it.
-- * A reconciliation run is claimed by one process (holder) that renews heartbeat_at while it
--   works; a run whose heartbeat stopped (its process died) is marked failed and run again
--   (retry_of names the run it replaces). Runs recorded before this migration are finished ones.

CREATE TABLE schedule_leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  expires_at  TIMESTAMPTZ(6) NOT NULL,
  acquired_at TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

ALTER TABLE reconciliations
  ADD COLUMN holder TEXT,
  ADD COLUMN heartbeat_at TIMESTAMPTZ(6),
  ADD COLUMN retry_of UUID REFERENCES reconciliations (id);

-- a run that was still running when this migration ran belonged to a process that no longer
-- exists (the service migrates at boot): it is left for the takeover, as a run whose heartbeat stopped
UPDATE reconciliations SET holder = 'before-leases', heartbeat_at = started_at WHERE status = 'running';

CREATE INDEX reconciliations_running_idx ON reconciliations (heartbeat_at) WHERE status = 'running';
