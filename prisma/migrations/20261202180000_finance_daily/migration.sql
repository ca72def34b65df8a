-- The finance console's daily figures: for every closed Moscow day, the posted debits and
-- credits by asset, group of accounts and transaction type, so that a period's charts read
-- O(days) rows instead of the journal's postings. Filled from the journal after the day has
-- closed (a scheduled job, and on demand by the first read that finds a day missing); the open
-- day is read live from the journal. Nothing on the ledger's write path touches these tables.
CREATE TABLE ledger_daily_totals (
  day      DATE    NOT NULL,
  asset    TEXT    NOT NULL,
  -- issued | resident | debt | redeemed | partner | charity | other
  kind     TEXT    NOT NULL,
  -- the account's code; '' for the residents' accounts, which are summed over all residents
  account  TEXT    NOT NULL,
  tx_type  TEXT    NOT NULL,
  debits   NUMERIC NOT NULL,
  credits  NUMERIC NOT NULL,
  postings BIGINT  NOT NULL,
  PRIMARY KEY (day, asset, kind, account, tx_type)
);

-- The days whose figures are in ledger_daily_totals (a day with no postings has a row here and
-- none there). Inserted first, in the same transaction as the figures: of two processes filling
-- one day, the second waits on this key and then finds it filled.
CREATE TABLE ledger_daily_closed (
  day       DATE        PRIMARY KEY,
  filled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
