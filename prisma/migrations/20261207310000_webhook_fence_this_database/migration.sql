-- The webhook drain's publish fence (20261204210000_webhook_publish_fence) counts only this
-- database's outbox writers. Advisory locks belong to a database, but pg_locks shows every
-- database's, so the outbox writers of another database on the same server (another service's,
-- a test's, a benchmark's) held this drain back as if they were its own: its deliveries waited
-- for transactions that could never publish to it. (Found by the hooks4 branch, seventh session.)
CREATE OR REPLACE FUNCTION webhook_publish_fence(OUT last_seq BIGINT, OUT writers TEXT[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO last_seq FROM webhook_events_seq_seq s;
  SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO writers FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.classid = 1717 AND l.objid = 1 AND l.objsubid = 2
    AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
END $$;
