-- No JIT compilation for this database's sessions. The service's statements are short (a balance
-- read, a redemption, a chunk of an award), but the planner's cost estimates come from the
-- tables' statistics, and a bulk award outdates them within minutes (a million accounts, balance
-- rows and lots opened, autovacuum's ANALYZE later, or never where it is off). A resident's
-- balance read, a handful of index probes, was then estimated above jit_above_cost (100,000),
-- and every read compiled its plan to machine code first: 190-280 ms of LLVM a read, for a
-- query that runs in a tenth of a millisecond. During a million-row award the reads' p50 was
-- 249 ms (docs/performance.md, the eighth session). The ledger's own functions already run with
-- jit = off (20261204300000_door_plans); this covers everything else, whatever connects: the
-- service's pools, a PgBouncer's server connections, psql. The nightly reconciliation's large
-- scans lose little without JIT (they are bound by reading, not by expression evaluation).
--
-- ALTER DATABASE ... SET needs the database's owner (or a superuser): where the migrating role
-- is neither, the migration says so and goes on; set it then by hand (docs/operations.md).
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'jit stays as it is for database %: set jit = off for it, or for the service''s role (docs/operations.md)', current_database();
END
$$;
-- this session too (a pooled connection opened before the setting keeps the default it started with)
SET jit = off;
