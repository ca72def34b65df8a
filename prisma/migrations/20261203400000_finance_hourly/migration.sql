-- The finance console's figures for the hours of the open Moscow day: the same shape as
-- ledger_daily_totals, one row per closed hour (UTC hours, which are Moscow's: its offset is a
-- whole number of hours), so that the open day is read from kept hours plus the journal of the
-- current hour only, and the overview's cost does not follow the day's volume. Derived data, not
-- the journal: a day's hours are dropped in the transaction that keeps the closed day.
CREATE TABLE ledger_hourly_totals (
  hour     TIMESTAMPTZ NOT NULL,
  asset    TEXT        NOT NULL,
  kind     TEXT        NOT NULL,
  account  TEXT        NOT NULL,
  tx_type  TEXT        NOT NULL,
  debits   NUMERIC     NOT NULL,
  credits  NUMERIC     NOT NULL,
  postings BIGINT      NOT NULL,
  PRIMARY KEY (hour, asset, kind, account, tx_type)
);

-- The hours whose figures are kept (claimed first, as ledger_daily_closed's days are).
CREATE TABLE ledger_hourly_closed (
  hour      TIMESTAMPTZ PRIMARY KEY,
  filled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
