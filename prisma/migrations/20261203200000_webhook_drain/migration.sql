-- Webhook delivery that keeps up with ingest (issue 17, "Tests and speed"); see docs/operations.md,
-- "Webhook delivery".
--
-- 1. A webhook is served by one process at a time: `dispatch_token` names the hand-off (a Bull job
--    or an in-process run), `dispatch_until` when it runs out unless renewed. The holder claims the
--    due head deliveries of that webhook in rounds, sends them several at once, and records a
--    round's outcomes in one statement; a dispatcher only hands out webhooks whose lease ran out.
--    (The columns are read and written by raw SQL only: they are not part of the API's webhook.)
ALTER TABLE webhooks ADD COLUMN dispatch_token UUID, ADD COLUMN dispatch_until TIMESTAMPTZ(6);

-- 2. The due deliveries are looked for per webhook (its holder's rounds, the dispatcher's question
--    whether a webhook has any): (webhook_id, next_attempt_at) instead of next_attempt_at alone.
DROP INDEX webhook_deliveries_due_idx;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending';

-- 3. Nothing reads events by their time (deliveries are found through webhook_deliveries, and
--    no retention job exists yet): the index cost every event written an insert for nothing.
DROP INDEX webhook_events_created_idx;

-- 4. The earn trigger reads the changed rows from its transition table instead of reading
--    earn_events again by id (one index probe per event saved, in the ingest's transaction).
CREATE OR REPLACE FUNCTION webhook_earn_events() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_types TEXT[]; v_residents TEXT[]; v_sources TEXT[]; v_data JSONB[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['earn_event.posted', 'earn_event.rejected', 'earn_event.revoked']) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg('earn_event.' || c.status ORDER BY c.seq), array_agg(c.resident_id ORDER BY c.seq),
           array_agg(c.source_id ORDER BY c.seq),
           array_agg(jsonb_build_object(
             'id', c.id, 'externalId', c.external_id, 'sourceId', c.source_id, 'type', c.type,
             'residentId', c.resident_id, 'status', c.status, 'points', c.points::text, 'reason', c.reason,
             'ruleId', c.rule_id, 'transactionId', c.transaction_id,
             'occurredAt', webhook_iso_time(c.occurred_at), 'processedAt', webhook_iso_time(c.processed_at)) ORDER BY c.seq)
    INTO v_types, v_residents, v_sources, v_data
    FROM new_rows c WHERE c.status IN ('posted', 'rejected', 'revoked');
  ELSE
    SELECT array_agg('earn_event.' || c.status ORDER BY c.seq), array_agg(c.resident_id ORDER BY c.seq),
           array_agg(c.source_id ORDER BY c.seq),
           array_agg(jsonb_build_object(
             'id', c.id, 'externalId', c.external_id, 'sourceId', c.source_id, 'type', c.type,
             'residentId', c.resident_id, 'status', c.status, 'points', c.points::text, 'reason', c.reason,
             'ruleId', c.rule_id, 'transactionId', c.transaction_id,
             'occurredAt', webhook_iso_time(c.occurred_at), 'processedAt', webhook_iso_time(c.processed_at)) ORDER BY c.seq)
    INTO v_types, v_residents, v_sources, v_data
    FROM new_rows c JOIN old_rows o ON o.id = c.id
    WHERE c.status IN ('posted', 'rejected', 'revoked') AND o.status <> c.status;
  END IF;
  IF v_types IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM webhook_publish(v_types, v_residents, array_fill(NULL::text, ARRAY[cardinality(v_types)]), v_sources, v_data);
  RETURN NULL;
END $$;
