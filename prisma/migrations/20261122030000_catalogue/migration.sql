-- Catalogue, codes and redemptions: what residents spend points on and what partners honour.

CREATE TABLE catalogue_items (
  id                   TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  kind                 TEXT NOT NULL CHECK (kind IN ('PROMO_CODE', 'TICKET', 'DONATION')),
  title                TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  partner_id           TEXT NOT NULL REFERENCES partners (id),
  price_points         NUMERIC CHECK (price_points > 0 AND price_points = trunc(price_points)),
  -- null: unlimited (generated codes); a pool item's stock is the codes still available
  stock                INT CHECK (stock >= 0),
  sold                 INT NOT NULL DEFAULT 0 CHECK (sold >= 0),
  per_resident_limit   INT CHECK (per_resident_limit > 0),
  code_source          TEXT CHECK (code_source IN ('POOL', 'GENERATED')),
  code_valid_days      INT CHECK (code_valid_days > 0),
  cancel_window_hours  INT NOT NULL DEFAULT 24 CHECK (cancel_window_hours >= 0),
  active_from          TIMESTAMPTZ(6),
  active_to            TIMESTAMPTZ(6),
  min_points           NUMERIC CHECK (min_points > 0 AND min_points = trunc(min_points)),
  max_points           NUMERIC CHECK (max_points = trunc(max_points)),
  created_at           TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at           TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  -- never sold beyond its stock, whatever the concurrency
  CONSTRAINT catalogue_items_within_stock CHECK (stock IS NULL OR sold <= stock),
  CONSTRAINT catalogue_items_shape CHECK (
    CASE kind
      WHEN 'DONATION' THEN code_source IS NULL AND min_points IS NOT NULL AND max_points >= min_points
      ELSE code_source IS NOT NULL AND price_points IS NOT NULL
    END)
);
CREATE INDEX catalogue_items_partner_idx ON catalogue_items (partner_id);

CREATE TABLE redemptions (
  id                     UUID PRIMARY KEY,
  resident_id            TEXT NOT NULL,
  item_id                TEXT NOT NULL REFERENCES catalogue_items (id),
  kind                   TEXT NOT NULL CHECK (kind IN ('PROMO_CODE', 'TICKET', 'DONATION')),
  quantity               INT NOT NULL CHECK (quantity > 0),
  points_spent           NUMERIC NOT NULL CHECK (points_spent > 0),
  status                 TEXT NOT NULL CHECK (status IN ('completed', 'cancelled')),
  transaction_id         UUID NOT NULL REFERENCES ledger_transactions (id),
  refund_transaction_id  UUID REFERENCES ledger_transactions (id),
  created_at             TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  cancelled_at           TIMESTAMPTZ(6)
);
CREATE INDEX redemptions_resident_idx ON redemptions (resident_id, created_at DESC);

-- Codes: uploaded to a pool ('available' until issued) or generated at redemption.
CREATE TABLE item_codes (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  item_id        TEXT NOT NULL REFERENCES catalogue_items (id),
  code           TEXT NOT NULL CHECK (char_length(code) BETWEEN 4 AND 64),
  status         TEXT NOT NULL CHECK (status IN ('available', 'issued', 'redeemed', 'cancelled')),
  redemption_id  UUID REFERENCES redemptions (id),
  valid_until    TIMESTAMPTZ(6),
  issued_at      TIMESTAMPTZ(6),
  redeemed_at    TIMESTAMPTZ(6),
  created_at     TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  -- a code is unique in the whole programme: partners look codes up by code alone
  CONSTRAINT item_codes_code_key UNIQUE (code),
  CONSTRAINT item_codes_issued_once CHECK ((status = 'available') = (redemption_id IS NULL))
);
CREATE INDEX item_codes_available_idx ON item_codes (item_id, id) WHERE status = 'available';
CREATE INDEX item_codes_redemption_idx ON item_codes (redemption_id);
CREATE INDEX item_codes_redeemed_idx ON item_codes (item_id, redeemed_at) WHERE status = 'redeemed';

-- How many of an item each resident holds, for per-resident limits: one small row per
-- (resident, item), so only the same resident's requests for the same item wait for each other.
CREATE TABLE resident_item_counts (
  resident_id  TEXT NOT NULL,
  item_id      TEXT NOT NULL REFERENCES catalogue_items (id),
  quantity     INT NOT NULL CHECK (quantity >= 0),
  PRIMARY KEY (resident_id, item_id)
);
