-- The webhooks' outbox, staged: one row per publishing statement in the change's transaction, its
-- events and deliveries written after commit by the drain (issue 17, "Tests and speed";
-- docs/performance.md, "Ninth session").
--
-- webhook_publish wrote, in the change's own transaction, an event row and a delivery row per
-- subscribed webhook for every event: two heap rows and five index entries per event (three of
-- them at random places), 1.1-1.2 KB of WAL per event, a quarter of the database's CPU of an earn
-- batch with one webhook (219 against 176 cpu ms per 1000 events). The drain giving way to ingest
-- (WEBHOOK_BUSY_SHARE) could not help with that part.
--
-- Now the change's transaction writes one row per call, the arrays it was given (one earn batch of
-- a thousand events: one row, its data compressed), and the drain expands it after commit
-- (webhook_materialize): the same events and deliveries as before, each event's created_at the
-- change's moment, for the webhooks active when it is expanded that were created before it was
-- staged (webhooks.outbox_from, below; a webhook ended meanwhile gets nothing more, as its pending
-- deliveries are cancelled when it ends). An event exists exactly when its change committed, as
-- before: a staged row is in the change's transaction.
--
-- Order: positions in webhook_outbox are drawn under the shared advisory lock (1717, 3), like the
-- events' under (1717, 1) before (migration 20261204210000); webhook_outbox_fence reads the last
-- position drawn, then this database's writers holding it, and the drain (WebhookStager) expands
-- only up to a position it knows final, in position order, one expander at a time (the exclusive
-- lock (1717, 2), held to its commit). The events it writes are drawn in that order under (1717, 1),
-- so webhook_publish_fence and the rounds' fence (CLAIM_ROUND) stay as they were.

-- An earn event's fields as the change left them, for its earn_event.* event (a type of its own,
-- not earn_events' row type, which would fix that table's columns): the earn trigger stages these,
-- its batch's rows as they are, and the expansion builds their JSON (webhook_materialize). Building
-- the JSON of a thousand events in the change's transaction cost 19 ms of its backend; this array 2.
CREATE TYPE webhook_earn_row AS (
  id UUID, external_id TEXT, source_id TEXT, type TEXT, resident_id TEXT, status TEXT, points NUMERIC,
  reason TEXT, rule_id TEXT, transaction_id UUID, occurred_at TIMESTAMPTZ, processed_at TIMESTAMPTZ
);

CREATE TABLE webhook_outbox (
  seq           BIGINT GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME webhook_outbox_seq_seq) PRIMARY KEY,
  -- what webhook_publish was given: parallel arrays, one element per event, in the order they happened
  types         TEXT[] NOT NULL DEFAULT '{}',
  residents     TEXT[] NOT NULL DEFAULT '{}',
  partners      TEXT[] NOT NULL DEFAULT '{}',
  sources       TEXT[] NOT NULL DEFAULT '{}',
  data          JSONB[] NOT NULL DEFAULT '{}',
  -- or, from the earn trigger, its rows (then the arrays above are empty)
  earn          webhook_earn_row[],
  -- how many events the row holds (the expansion's budget and the backlog count it without
  -- reading the arrays)
  events        INT GENERATED ALWAYS AS (cardinality(types) + coalesce(cardinality(earn), 0)) STORED,
  -- the change's moment (its transaction's start), each event's created_at
  created_at    TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT webhook_outbox_one_form CHECK (earn IS NULL OR cardinality(types) = 0),
  -- a row the expansion could not expand would hold back every later one: refused in the change's
  -- transaction instead, as the unexpanded outbox refused it (its columns are NOT NULL)
  CONSTRAINT webhook_outbox_arrays CHECK (
    cardinality(residents) = cardinality(types) AND cardinality(partners) = cardinality(types)
    AND cardinality(sources) = cardinality(types) AND cardinality(data) = cardinality(types)
    AND array_position(types, NULL) IS NULL AND array_position(data, NULL) IS NULL)
);

-- A webhook takes the events staged after it was created: its creation draws a position of the
-- outbox (no clock is compared: the service's and the database's may differ), holding the writers'
-- lock (1717, 3) as they do, so that no later position is expanded before the webhook is committed
-- (WebhooksRepository.create). Events staged by a transaction that drew an earlier position are
-- not its own, even if they commit later.
ALTER TABLE webhooks ADD COLUMN outbox_from BIGINT NOT NULL DEFAULT nextval('webhook_outbox_seq_seq');

-- lz4 where the server has it (cheaper to compress than the default pglz); else the default
DO $$
BEGIN
  ALTER TABLE webhook_outbox ALTER COLUMN data SET COMPRESSION lz4, ALTER COLUMN earn SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'webhook_outbox.data keeps the default compression: %', SQLERRM;
END $$;

CREATE OR REPLACE FUNCTION webhook_publish(p_types TEXT[], p_residents TEXT[], p_partners TEXT[], p_sources TEXT[], p_data JSONB[])
RETURNS VOID LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock_shared(1717, 3);
  INSERT INTO webhook_outbox (types, residents, partners, sources, data)
  SELECT p_types, p_residents, p_partners, p_sources, p_data
  WHERE cardinality(p_types) > 0
    AND EXISTS (SELECT 1 FROM webhooks w WHERE w.status = 'active' AND w.events && p_types)
$$;

-- earn_event.posted, .rejected, .revoked: the batch's rows that reached one of these states, staged
-- as they are (their JSON is built by the expansion).
CREATE OR REPLACE FUNCTION webhook_earn_events() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_rows webhook_earn_row[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['earn_event.posted', 'earn_event.rejected', 'earn_event.revoked']) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(ROW(c.id, c.external_id, c.source_id, c.type, c.resident_id, c.status, c.points, c.reason, c.rule_id,
                         c.transaction_id, c.occurred_at, c.processed_at)::webhook_earn_row ORDER BY c.seq)
    INTO v_rows
    FROM new_rows c WHERE c.status IN ('posted', 'rejected', 'revoked');
  ELSE
    SELECT array_agg(ROW(c.id, c.external_id, c.source_id, c.type, c.resident_id, c.status, c.points, c.reason, c.rule_id,
                         c.transaction_id, c.occurred_at, c.processed_at)::webhook_earn_row ORDER BY c.seq)
    INTO v_rows
    FROM new_rows c JOIN old_rows o ON o.id = c.id
    WHERE c.status IN ('posted', 'rejected', 'revoked') AND o.status <> c.status;
  END IF;
  IF v_rows IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock_shared(1717, 3);
  INSERT INTO webhook_outbox (earn) VALUES (v_rows);
  RETURN NULL;
END $$;

-- The staged rows' fence, read in this order: the last position drawn, then this database's
-- writers still running (as webhook_publish_fence, migration 20261207310000).
CREATE FUNCTION webhook_outbox_fence(OUT last_seq BIGINT, OUT writers TEXT[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO last_seq FROM webhook_outbox_seq_seq s;
  SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO writers FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.classid = 1717 AND l.objid = 3 AND l.objsubid = 2
    AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
END $$;

-- Expands staged rows at positions up to p_upto (known final by the caller), in position order,
-- into events and deliveries, and deletes them: at most p_rows rows, and no further row once
-- p_events events are taken (the first row is always taken). With it, the staged rows' fence as
-- it is now, and whether staged rows are left. Nothing when another expander runs (staged -1: it
-- is not waited for, it does the work).
CREATE FUNCTION webhook_materialize(p_upto BIGINT, p_rows INT, p_events INT,
  OUT staged INT, OUT events INT, OUT left_over BOOLEAN, OUT fence_seq BIGINT, OUT fence_writers TEXT[])
LANGUAGE plpgsql AS $$
DECLARE
  v_seqs BIGINT[];
BEGIN
  SELECT f.last_seq, f.writers INTO fence_seq, fence_writers FROM webhook_outbox_fence() f;
  staged := 0;
  events := 0;
  IF NOT pg_try_advisory_xact_lock(1717, 2) THEN
    staged := -1;
    left_over := EXISTS (SELECT 1 FROM webhook_outbox);
    RETURN;
  END IF;
  SELECT array_agg(r.seq ORDER BY r.seq) INTO v_seqs FROM (
    SELECT s.seq, sum(s.events) OVER (ORDER BY s.seq) - s.events AS before
    FROM webhook_outbox s WHERE s.seq <= p_upto ORDER BY s.seq LIMIT p_rows) r
  WHERE r.before < p_events;
  IF v_seqs IS NULL THEN
    left_over := EXISTS (SELECT 1 FROM webhook_outbox);
    RETURN;
  END IF;
  -- the events' positions are drawn under the lock the rounds' fence reads (webhook_publish_fence)
  PERFORM pg_advisory_xact_lock_shared(1717, 1);
  -- each event's webhooks in an array beside it, its position drawn here in order: the events and
  -- the deliveries are then written from the same rows, with no join between the two
  WITH o AS MATERIALIZED (
    DELETE FROM webhook_outbox x WHERE x.seq = ANY (v_seqs)
    RETURNING x.*
  ), staged AS (
    SELECT o.seq AS outbox_seq, o.created_at, c.type, c.resident_id, c.partner_id, c.source_id, c.data, c.n
    FROM o CROSS JOIN LATERAL unnest(o.types, o.residents, o.partners, o.sources, o.data) WITH ORDINALITY
      AS c(type, resident_id, partner_id, source_id, data, n)
    UNION ALL
    -- the earn trigger's rows: the JSON its earlier versions built in the change's transaction
    SELECT o.seq, o.created_at, 'earn_event.' || e.status, e.resident_id, NULL, e.source_id,
      jsonb_build_object(
        'id', e.id, 'externalId', e.external_id, 'sourceId', e.source_id, 'type', e.type,
        'residentId', e.resident_id, 'status', e.status, 'points', e.points::text, 'reason', e.reason,
        'ruleId', e.rule_id, 'transactionId', e.transaction_id,
        'occurredAt', webhook_iso_time(e.occurred_at), 'processedAt', webhook_iso_time(e.processed_at)),
      e.n
    FROM o CROSS JOIN LATERAL unnest(o.earn) WITH ORDINALITY
      AS e(id, external_id, source_id, type, resident_id, status, points, reason, rule_id, transaction_id, occurred_at, processed_at, n)
  ), candidate AS MATERIALIZED (
    SELECT c.*,
      ARRAY(SELECT w.id FROM webhooks w
            WHERE w.status = 'active' AND c.type = ANY (w.events) AND w.outbox_from < c.outbox_seq
              AND (w.partner_id IS NULL OR w.partner_id = c.partner_id)
              AND (w.source_id IS NULL OR w.source_id = c.source_id)
            ORDER BY w.id) AS hooks
    FROM staged c
  ), numbered AS MATERIALIZED (
    SELECT gen_random_uuid() AS event_id, nextval('webhook_events_seq_seq'::regclass) AS event_seq, t.*
    FROM (SELECT * FROM candidate WHERE cardinality(hooks) > 0 ORDER BY outbox_seq, n) t
  ), ev AS (
    INSERT INTO webhook_events (id, seq, type, resident_id, partner_id, source_id, data, created_at) OVERRIDING SYSTEM VALUE
    SELECT n.event_id, n.event_seq, n.type, n.resident_id, n.partner_id, n.source_id, n.data, n.created_at FROM numbered n
    ORDER BY n.event_seq
    RETURNING 1
  ), dl AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, event_seq, order_key, created_at)
    SELECT h.id, n.event_id, n.event_seq, n.resident_id, n.created_at
    FROM numbered n CROSS JOIN LATERAL unnest(n.hooks) AS h(id)
    ORDER BY n.event_seq
    RETURNING 1
  )
  -- (dl runs to completion unread, as every data-modifying WITH does)
  SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM ev) INTO staged, events;
  left_over := EXISTS (SELECT 1 FROM webhook_outbox);
END $$;
