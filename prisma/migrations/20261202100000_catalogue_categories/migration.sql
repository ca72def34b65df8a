-- Catalogue categories: residents choose rewards by category ("museums", "parks", ...).
-- Names in each language the pages speak; an item belongs to at most one category, and a
-- category in use cannot be deleted (the foreign key refuses it; the service says invalid_state).

CREATE TABLE catalogue_categories (
  id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name_ru     TEXT NOT NULL CHECK (char_length(name_ru) BETWEEN 1 AND 100),
  name_en     TEXT NOT NULL CHECK (char_length(name_en) BETWEEN 1 AND 100),
  position    INT NOT NULL DEFAULT 0,
  created_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ(6) NOT NULL DEFAULT now()
);

ALTER TABLE catalogue_items ADD COLUMN category_id TEXT REFERENCES catalogue_categories (id);
CREATE INDEX catalogue_items_category_idx ON catalogue_items (category_id);
