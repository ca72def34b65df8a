-- Per-resident order across concurrent transactions (issue 17: "the events of one resident reach
-- one webhook in the order they happened"; docs/operations.md, "Webhook delivery", Order).
--
-- An event's position (webhook_events.seq) is taken when its transaction writes the outbox, but
-- two transactions may commit in the other order: an earn batch sets its events' status (and so
-- writes the outbox) before it takes the balance rows that concurrent batches of the same
-- residents wait for. The drain, seeing the later event committed and the earlier one not yet,
-- took the later one for its resident's first and sent it first (seen in test/webhooks/drain.spec.ts
-- once the drain was fast enough to look in that window).
--
-- A transaction writing the outbox now says so for as long as it runs: a shared transaction-level
-- advisory lock (1717, 1) taken before it draws its positions (shared: writers never wait for one
-- another, nor for anything else; nobody takes it exclusively). The drain reads, in one statement,
-- the last position drawn and then the writers holding the lock (pg_locks); once none of those
-- writers is still there, every position up to that one is final (committed or rolled back), and
-- only deliveries up to it are sent (WebhooksRepository, CLAIM_ROUND).
CREATE OR REPLACE FUNCTION webhook_publish(p_types TEXT[], p_residents TEXT[], p_partners TEXT[], p_sources TEXT[], p_data JSONB[])
RETURNS VOID LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock_shared(1717, 1);
  WITH candidate AS (
    SELECT c.* FROM unnest(p_types, p_residents, p_partners, p_sources, p_data) WITH ORDINALITY
      AS c(type, resident_id, partner_id, source_id, data, n)
  ), ev AS (
    INSERT INTO webhook_events (type, resident_id, partner_id, source_id, data)
    SELECT c.type, c.resident_id, c.partner_id, c.source_id, c.data FROM candidate c
    WHERE EXISTS (
      SELECT 1 FROM webhooks w
      WHERE w.status = 'active' AND c.type = ANY (w.events)
        AND (w.partner_id IS NULL OR w.partner_id = c.partner_id)
        AND (w.source_id IS NULL OR w.source_id = c.source_id))
    ORDER BY c.n
    RETURNING id, seq, type, resident_id, partner_id, source_id
  )
  INSERT INTO webhook_deliveries (webhook_id, event_id, event_seq, order_key)
  SELECT w.id, ev.id, ev.seq, ev.resident_id
  FROM ev JOIN webhooks w
    ON w.status = 'active' AND ev.type = ANY (w.events)
   AND (w.partner_id IS NULL OR w.partner_id = ev.partner_id)
   AND (w.source_id IS NULL OR w.source_id = ev.source_id)
  ORDER BY ev.seq
$$;

-- The drain's fence, read in this order: the last position drawn, then the writers still running
-- (a writer that drew a position up to it had taken the lock first, so it has ended or is among
-- them). An unused sequence has drawn nothing yet.
CREATE FUNCTION webhook_publish_fence(OUT last_seq BIGINT, OUT writers TEXT[])
LANGUAGE plpgsql AS $$
BEGIN
  SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END INTO last_seq FROM webhook_events_seq_seq s;
  SELECT coalesce(array_agg(l.virtualtransaction), '{}') INTO writers FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.classid = 1717 AND l.objid = 1 AND l.objsubid = 2;
END $$;
