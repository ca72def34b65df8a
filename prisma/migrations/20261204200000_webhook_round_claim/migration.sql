-- The drain's statements planned the same whatever the statistics say (issue 17, "Tests and
-- speed"; docs/performance.md, "Webhooks: the stall at 60,000 explained"; docs/operations.md,
-- "Webhook delivery").
--
-- The question "which delivery is first in its resident's queue to this webhook" was answered on
-- webhook_deliveries_order_idx (webhook_id, order_key, event_seq). That index shared its leading
-- column with webhook_deliveries_due_idx (webhook_id, next_attempt_at), and with statistics taken
-- while the outbox was small the planner probed a resident's queue through the due index instead,
-- reading the webhook's whole backlog for each delivery of a round (3.3 s a round at 30,000
-- pending, by auto_explain in a 60,000-event bench run). The queue is now indexed on one
-- expression, the webhook and the resident together, which no other index can answer: a probe
-- of a resident's queue is an index probe or, at worst, a plan costed at the whole table, which
-- the planner does not take for one row.
CREATE INDEX webhook_deliveries_queue_idx ON webhook_deliveries ((webhook_id::text || ' ' || order_key), event_seq)
  WHERE status = 'pending';
DROP INDEX webhook_deliveries_order_idx;

-- The outbox's rows are written by one statement (webhook_publish), from the active webhooks it
-- has just read and the events it has just inserted; webhooks are never deleted (a webhook ends
-- by its status) and neither are events. The two foreign keys of webhook_deliveries checked that
-- again for every delivery, in the earn posting's transaction: two row-level trigger queries per
-- event, and a KEY SHARE lock on the webhook's row by every ingest transaction at once (a
-- multixact on the row the drain renews its lease on). Without them, writing 1,000 deliveries
-- took 40–50 % less time in the same session (psql, loaded machine).
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
