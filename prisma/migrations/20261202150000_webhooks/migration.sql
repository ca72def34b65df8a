-- Webhooks: subscriptions, a transactional outbox of events and their deliveries.
--
-- The outbox is written by triggers on the business tables, in the transaction of the change
-- itself, whichever code path made it (the earn batch and catalogue_redeem are single SQL
-- statements, the ledger primitive is SQL too): an event row exists exactly when its change
-- committed. A trigger first asks whether any active webhook subscribes to what it could emit,
-- and returns at once when none does. Delivery (HTTP) happens after commit, from
-- webhook_deliveries, never inside a business transaction.

CREATE TABLE webhooks (
  id                     UUID PRIMARY KEY,
  url                    TEXT NOT NULL CHECK (char_length(url) BETWEEN 8 AND 2000),
  events                 TEXT[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 32),
  partner_id             TEXT REFERENCES partners (id),
  source_id              TEXT REFERENCES sources (id),
  description            TEXT CHECK (char_length(description) <= 500),
  -- the signing secret: AES-256-GCM ciphertext ('enc1:...') under WEBHOOK_SECRET_KEY, or the
  -- secret itself ('whsec_...') when no key is configured (see docs/security.md)
  secret                 TEXT NOT NULL,
  -- the secret before the last rotation, still used to sign (beside the new one) until then
  previous_secret        TEXT,
  previous_secret_until  TIMESTAMPTZ(6),
  status                 TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
  disabled_reason        TEXT,
  created_at             TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at             TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT webhooks_one_scope CHECK (partner_id IS NULL OR source_id IS NULL),
  CONSTRAINT webhooks_rotation CHECK ((previous_secret IS NULL) = (previous_secret_until IS NULL))
);
CREATE INDEX webhooks_active_idx ON webhooks (status) WHERE status = 'active';

-- One row per event that at least one webhook subscribed to when it happened.
CREATE TABLE webhook_events (
  id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  -- the order events happened in (per resident, deliveries follow it)
  seq          BIGINT GENERATED ALWAYS AS IDENTITY,
  type         TEXT NOT NULL,
  resident_id  TEXT,
  partner_id   TEXT,
  source_id    TEXT,
  data         JSONB NOT NULL,
  created_at   TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

-- One row per event and subscribed webhook: what delivery has done and will do.
CREATE TABLE webhook_deliveries (
  id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id       UUID NOT NULL REFERENCES webhooks (id),
  event_id         UUID NOT NULL REFERENCES webhook_events (id),
  event_seq        BIGINT NOT NULL,
  -- deliveries of one key (the resident) to one webhook go one at a time, in event_seq order
  order_key        TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
  attempts         INT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  -- set while an attempt is queued or running; a lease that ran out means the job was lost
  leased_until     TIMESTAMPTZ(6),
  last_attempt_at  TIMESTAMPTZ(6),
  last_status      SMALLINT,
  last_response    TEXT CHECK (char_length(last_response) <= 1000),
  last_error       TEXT CHECK (char_length(last_error) <= 500),
  delivered_at     TIMESTAMPTZ(6),
  created_at       TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (webhook_id, order_key, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC);

CREATE FUNCTION webhook_iso_time(t TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Whether any active webhook takes one of these event types (the triggers' cheap first question).
CREATE FUNCTION webhook_subscribed(p_types TEXT[]) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM webhooks WHERE status = 'active' AND events && p_types)
$$;

-- Writes events (parallel arrays, in the order they happened) and a delivery for each webhook
-- that takes it: the type subscribed, and the webhook unscoped or bound to the event's partner
-- or source. An event no webhook takes is not written.
CREATE FUNCTION webhook_publish(p_types TEXT[], p_residents TEXT[], p_partners TEXT[], p_sources TEXT[], p_data JSONB[])
RETURNS VOID LANGUAGE sql AS $$
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

-- The triggers: statement-level, with transition tables (one call per statement, however many
-- rows the earn batch or a code pool changed). A transition table of an INSERT trigger has no
-- old rows, so each function picks the changed rows' keys by TG_OP, then reads them once.

-- earn_event.posted | rejected | revoked: an event that reaches one of these states, whether it
-- was stored in it (a refusal at intake) or moved into it (the batch, confirm, reject, revoke).
CREATE FUNCTION webhook_earn_events() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_ids UUID[]; v_types TEXT[]; v_residents TEXT[]; v_sources TEXT[]; v_data JSONB[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['earn_event.posted', 'earn_event.rejected', 'earn_event.revoked']) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n WHERE n.status IN ('posted', 'rejected', 'revoked');
  ELSE
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IN ('posted', 'rejected', 'revoked') AND o.status <> n.status;
  END IF;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT array_agg('earn_event.' || c.status ORDER BY c.seq), array_agg(c.resident_id ORDER BY c.seq),
         array_agg(c.source_id ORDER BY c.seq),
         array_agg(jsonb_build_object(
           'id', c.id, 'externalId', c.external_id, 'sourceId', c.source_id, 'type', c.type,
           'residentId', c.resident_id, 'status', c.status, 'points', c.points::text, 'reason', c.reason,
           'ruleId', c.rule_id, 'transactionId', c.transaction_id,
           'occurredAt', webhook_iso_time(c.occurred_at), 'processedAt', webhook_iso_time(c.processed_at)) ORDER BY c.seq)
  INTO v_types, v_residents, v_sources, v_data
  FROM earn_events c WHERE c.id = ANY (v_ids);
  PERFORM webhook_publish(v_types, v_residents, array_fill(NULL::text, ARRAY[cardinality(v_types)]), v_sources, v_data);
  RETURN NULL;
END $$;

CREATE TRIGGER earn_events_webhooks_insert AFTER INSERT ON earn_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_earn_events();
CREATE TRIGGER earn_events_webhooks_update AFTER UPDATE ON earn_events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_earn_events();

-- redemption.created, donation.created (a new row) and redemption.cancelled (completed -> cancelled).
CREATE FUNCTION webhook_redemptions() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_ids UUID[]; v_types TEXT[]; v_residents TEXT[]; v_partners TEXT[]; v_data JSONB[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['redemption.created', 'redemption.cancelled', 'donation.created']) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n WHERE n.status = 'completed';
  ELSE
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status = 'cancelled' AND o.status <> 'cancelled';
  END IF;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;
  WITH changed AS (
    SELECT r.*, i.partner_id,
           CASE WHEN TG_OP = 'UPDATE' THEN 'redemption.cancelled'
                WHEN r.kind = 'DONATION' THEN 'donation.created' ELSE 'redemption.created' END AS event_type
    FROM redemptions r JOIN catalogue_items i ON i.id = r.item_id
    WHERE r.id = ANY (v_ids)
  )
  SELECT array_agg(c.event_type ORDER BY c.created_at, c.id), array_agg(c.resident_id ORDER BY c.created_at, c.id),
         array_agg(c.partner_id ORDER BY c.created_at, c.id),
         array_agg(CASE c.event_type
           WHEN 'donation.created' THEN jsonb_build_object(
             'id', c.id, 'residentId', c.resident_id, 'itemId', c.item_id, 'partnerId', c.partner_id,
             'points', c.points_spent::text, 'transactionId', c.transaction_id, 'createdAt', webhook_iso_time(c.created_at))
           ELSE jsonb_build_object(
             'id', c.id, 'residentId', c.resident_id, 'itemId', c.item_id, 'partnerId', c.partner_id, 'kind', c.kind,
             'quantity', c.quantity, 'pointsSpent', c.points_spent::text, 'status', c.status,
             'transactionId', c.transaction_id, 'refundTransactionId', c.refund_transaction_id,
             'createdAt', webhook_iso_time(c.created_at), 'cancelledAt', webhook_iso_time(c.cancelled_at))
           END ORDER BY c.created_at, c.id)
  INTO v_types, v_residents, v_partners, v_data FROM changed c;
  PERFORM webhook_publish(v_types, v_residents, v_partners, array_fill(NULL::text, ARRAY[cardinality(v_types)]), v_data);
  RETURN NULL;
END $$;

CREATE TRIGGER redemptions_webhooks_insert AFTER INSERT ON redemptions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_redemptions();
CREATE TRIGGER redemptions_webhooks_update AFTER UPDATE ON redemptions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_redemptions();

-- code.redeemed: a code a partner marked used.
CREATE FUNCTION webhook_item_codes() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_types TEXT[]; v_residents TEXT[]; v_partners TEXT[]; v_data JSONB[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['code.redeemed']) THEN
    RETURN NULL;
  END IF;
  WITH changed AS (
    SELECT n.*, i.partner_id, r.resident_id
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id AND o.status <> 'redeemed'
    JOIN catalogue_items i ON i.id = n.item_id
    LEFT JOIN redemptions r ON r.id = n.redemption_id
    WHERE n.status = 'redeemed'
  )
  SELECT array_agg('code.redeemed'::text ORDER BY c.id), array_agg(c.resident_id ORDER BY c.id), array_agg(c.partner_id ORDER BY c.id),
         array_agg(jsonb_build_object(
           'code', c.code, 'itemId', c.item_id, 'partnerId', c.partner_id, 'redemptionId', c.redemption_id,
           'residentId', c.resident_id, 'redeemedAt', webhook_iso_time(c.redeemed_at)) ORDER BY c.id)
  INTO v_types, v_residents, v_partners, v_data FROM changed c;
  IF v_types IS NOT NULL THEN
    PERFORM webhook_publish(v_types, v_residents, v_partners, array_fill(NULL::text, ARRAY[cardinality(v_types)]), v_data);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER item_codes_webhooks_update AFTER UPDATE ON item_codes
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_item_codes();

-- reconciliation.failed: a run that ends failed.
CREATE FUNCTION webhook_reconciliations() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
  v_ids UUID[]; v_types TEXT[]; v_data JSONB[]; v_none TEXT[];
BEGIN
  IF NOT webhook_subscribed(ARRAY['reconciliation.failed']) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n WHERE n.status = 'failed';
  ELSE
    SELECT array_agg(n.id) INTO v_ids FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status = 'failed' AND o.status <> 'failed';
  END IF;
  IF v_ids IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT array_agg('reconciliation.failed'::text ORDER BY c.started_at),
         array_agg(jsonb_build_object(
           'id', c.id, 'trigger', c.trigger, 'startedAt', webhook_iso_time(c.started_at),
           'finishedAt', webhook_iso_time(c.finished_at),
           'failedChecks', coalesce((SELECT jsonb_agg(jsonb_build_object('name', k->>'name', 'detail', k->>'detail'))
                                     FROM jsonb_array_elements(c.checks) k WHERE (k->>'passed')::boolean IS NOT TRUE), '[]'::jsonb))
           ORDER BY c.started_at)
  INTO v_types, v_data FROM reconciliations c WHERE c.id = ANY (v_ids);
  v_none := array_fill(NULL::text, ARRAY[cardinality(v_types)]);
  PERFORM webhook_publish(v_types, v_none, v_none, v_none, v_data);
  RETURN NULL;
END $$;

CREATE TRIGGER reconciliations_webhooks_insert AFTER INSERT ON reconciliations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_reconciliations();
CREATE TRIGGER reconciliations_webhooks_update AFTER UPDATE ON reconciliations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_reconciliations();
