-- An earn batch writes its events' new status (with the transactions they point at) before the
-- ledger statement, so that the balance rows, which concurrent batches of the same residents
-- wait for, are locked only from that statement to the commit. The reference is still checked,
-- at commit.
ALTER TABLE earn_events ALTER CONSTRAINT earn_events_transaction_id_fkey DEFERRABLE INITIALLY DEFERRED;
