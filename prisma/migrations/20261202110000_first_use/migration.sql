-- An unlimited item's sales are counted from its redemptions (its own counter guards a limited
-- stock only): an index-only sum per item for the catalogue's `sold`.
CREATE INDEX redemptions_item_sales_idx ON redemptions (item_id) INCLUDE (quantity)
  WHERE status <> 'cancelled' AND kind <> 'DONATION';
