-- Catalogue integrity, after review.
--
-- 1. A redemption records whether it counted against the item's stock and the resident's
--    limit, so that a cancel gives back exactly what was taken, whatever the item says now.
ALTER TABLE redemptions
  ADD COLUMN stock_counted BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN limit_counted BOOLEAN NOT NULL DEFAULT false;
UPDATE redemptions r
SET stock_counted = i.stock IS NOT NULL, limit_counted = i.per_resident_limit IS NOT NULL
FROM catalogue_items i
WHERE i.id = r.item_id AND r.kind <> 'DONATION';
UPDATE redemptions r
SET limit_counted = i.per_resident_limit IS NOT NULL
FROM catalogue_items i
WHERE i.id = r.item_id AND r.kind = 'DONATION';

-- 2. A charity fund's statement reads its donations by item and time.
CREATE INDEX redemptions_donations_idx ON redemptions (item_id, created_at)
  WHERE kind = 'DONATION' AND status = 'completed';

-- 3. Codes are unique per item, not in the whole programme: a partner uploading a code that
--    another partner happens to hold must learn nothing of it. A partner looks its codes up by
--    code and its own id; uploads of one partner are serialised so its codes stay unique to it.
ALTER TABLE item_codes DROP CONSTRAINT item_codes_code_key;
CREATE UNIQUE INDEX item_codes_item_code_key ON item_codes (item_id, code);
CREATE INDEX item_codes_code_idx ON item_codes (code);
