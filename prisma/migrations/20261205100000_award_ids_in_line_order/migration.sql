-- Bulk awards at a million rows (issue 18): a chunk's cost grew as the award went on, because
-- every credit wrote its random key into indexes that outgrew shared_buffers (docs/performance.md,
-- "bulk awards at a million rows"). Two changes, neither in the ledger's door:
--
-- 1. An award's credit is named by the award and the row's line, in line order: the first 12
--    bytes from SHA-256 of the award's id (an RFC 9562 version 8 UUID, as before), the last 4 the
--    line. Before, the id was SHA-256 of (award, resident, reference): uniformly random, so each
--    chunk of 2,000 credits inserted into ~2,000 random leaf pages of each index keyed by a
--    transaction id (the journal's primary key, the id registry, the postings', the lots' and the
--    seal entries' transaction indexes): pages read back from outside shared_buffers, written
--    out dirty, and each given a full-page image in the WAL after every checkpoint, more of them
--    as the indexes grew. Now a chunk's ids are consecutive: it appends to one place in each
--    index. Still one id per row, derived from it (the line is unique in an award, and (award,
--    resident, reference) has one line), so a second credit of a row would still collide on the
--    id registry's key. Rows credited before this migration keep their ids (award_rows holds
--    each); only rows credited from now on are named this way.
-- 2. award_rows updated in place (HOT): a row credited changes its status, and status was in the
--    predicate of award_rows_pending_idx, so every credited row was a new row version with new
--    entries in all three of the table's indexes (award_rows_once, by resident, was the third
--    most read index from disk at 400,000 credits). Without that index (a chunk finds its rows
--    from the watermark on the primary key, which is in line order: award_credit_chunk reads
--    them so whatever the statistics, and an upload's end analyses the table) and with room left
--    on each page (fillfactor 50, for rows stored from now on), the update touches no index.

CREATE FUNCTION award_transaction_id(p_award UUID, p_line INT) RETURNS UUID
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT encode(set_byte(set_byte(substring(h FROM 1 FOR 12), 6, (get_byte(h, 6) & 15) | 128), 8, (get_byte(h, 8) & 63) | 128)
                || int4send(p_line), 'hex')::uuid
  FROM (SELECT sha256('award'::bytea || '\x00'::bytea || convert_to(p_award::text, 'UTF8')) AS h) x
$$;

DROP INDEX award_rows_pending_idx;
ALTER TABLE award_rows SET (fillfactor = 50);

-- award_credit_chunk of 20261204100000_award_chunks_in_sql, with the new ids and its rows read in
-- line order along the primary key (the pending rows' index is gone)
CREATE OR REPLACE FUNCTION award_credit_chunk(p_award UUID, p_after INT, p_limit INT, p_lease_seconds INT)
RETURNS TABLE (settled INT, last_line INT, points NUMERIC, fallback BOOLEAN)
LANGUAGE plpgsql
-- every statement (the door's too) planned for the chunk's own arrays: a plan cached for any
-- array (guessed at 10 elements) joins the door's arrays of 2,000 transactions and 4,000 postings
-- by nested loops, 8 million comparisons a statement; and the rows it reads are in memory
SET plan_cache_mode = force_custom_plan SET random_page_cost = 1.1
AS $$
#variable_conflict use_column
DECLARE
  v_description TEXT;
  v_expires TIMESTAMPTZ;
  v_issued BIGINT;
  v_lines INT[];
  v_residents TEXT[];
  v_refs TEXT[];
  v_points NUMERIC[];
  v_ids UUID[];
  v_accounts BIGINT[];
  v_n INT;
  v_total NUMERIC;
  v_sort TEXT;
BEGIN
  SELECT a.description, a.expires_at INTO v_description, v_expires FROM awards a WHERE a.id = p_award;
  SELECT a.id INTO v_issued FROM ledger_accounts a WHERE a.code = 'programme:issued' AND a.asset = 'POINTS';

  -- the chunk: up to p_limit pending rows after line p_after, in line order, locked
  -- (the aggregates take the rows in the subquery's line order). Read along the primary key from
  -- p_after, whatever the table's statistics say: without them (a table never analysed) the
  -- planner guessed a handful of rows and chose to read every row after p_after and sort them
  -- (650,000 rows, 3 s, for a chunk at line 350,000); sorting is off for this statement alone
  v_sort := current_setting('enable_sort');
  PERFORM set_config('enable_sort', 'off', true);
  SELECT array_agg(r.line), array_agg(r.resident_id), array_agg(r.reference), array_agg(r.points),
         array_agg(award_transaction_id(p_award, r.line))
    INTO v_lines, v_residents, v_refs, v_points, v_ids
  FROM (SELECT w.line, w.resident_id, w.reference, w.points FROM award_rows w
        WHERE w.award_id = p_award AND w.status = 'pending' AND w.line > p_after
        ORDER BY w.line LIMIT p_limit FOR UPDATE SKIP LOCKED) r;
  PERFORM set_config('enable_sort', v_sort, true);
  v_n := coalesce(cardinality(v_lines), 0);
  IF v_n = 0 THEN
    RETURN QUERY SELECT 0, 0, 0::numeric, false;
    RETURN;
  END IF;

  -- what the accrual rule in the service decides: left to it (called on its own, this
  -- statement's transaction ends here and lets the rows go: the service locks them again, in a
  -- transaction that pays debts one chunk at a time and reads them only then)
  -- (every lookup by its key, one probe a row: see ledger_record below)
  IF v_issued IS NULL OR (v_expires IS NOT NULL AND v_expires <= clock_timestamp()) OR EXISTS (
    SELECT 1 FROM (SELECT DISTINCT r.id FROM unnest(v_residents) AS r(id)) r
    CROSS JOIN LATERAL (SELECT a.id FROM ledger_accounts a WHERE a.code = 'resident:' || r.id || ':debt' AND a.asset = 'POINTS' OFFSET 0) a
    CROSS JOIN LATERAL (SELECT 1 FROM account_balances b WHERE b.account_id = a.id
                          AND (b.debits_posted <> b.credits_posted OR b.debits_pending <> 0 OR b.credits_pending <> 0) OFFSET 0) b
  ) THEN
    RETURN QUERY SELECT v_n, v_lines[v_n], 0::numeric, true;
    RETURN;
  END IF;

  -- the residents' accounts, opened on first use (with their balance row), as ensureAccounts does
  WITH created AS (
    INSERT INTO ledger_accounts (code, asset, normal_side, floor_zero, shards)
    SELECT r.code, 'POINTS', 'C', true, 1 FROM (SELECT DISTINCT 'resident:' || r.id AS code FROM unnest(v_residents) AS r(id)) r
    LEFT JOIN LATERAL (SELECT a.id FROM ledger_accounts a WHERE a.code = r.code AND a.asset = 'POINTS' OFFSET 0) a ON true
    WHERE a.id IS NULL
    ORDER BY r.code
    ON CONFLICT (code, asset) DO NOTHING
    RETURNING id, normal_side, floor_zero
  )
  INSERT INTO account_balances (account_id, shard, normal_side, floor_zero)
  SELECT c.id, 0, c.normal_side, c.floor_zero FROM created c;
  SELECT array_agg(a.id ORDER BY r.n) INTO v_accounts
  FROM unnest(v_residents) WITH ORDINALITY AS r(id, n)
  CROSS JOIN LATERAL (SELECT a.id FROM ledger_accounts a WHERE a.code = 'resident:' || r.id AND a.asset = 'POINTS' OFFSET 0) a;
  IF coalesce(cardinality(v_accounts), 0) <> v_n THEN
    -- an account another transaction committed after this statement began: the service's path
    -- (whose account lookup tries again) credits the chunk
    RETURN QUERY SELECT v_n, v_lines[v_n], 0::numeric, true;
    RETURN;
  END IF;

  -- the rows' new status first (it names their transactions), the ledger's door last
  UPDATE award_rows w SET status = 'credited', transaction_id = u.id
  FROM unnest(v_lines, v_ids) AS u(line, id)
  WHERE w.award_id = p_award AND w.line = u.line AND w.line BETWEEN v_lines[1] AND v_lines[v_n] AND w.status = 'pending';

  PERFORM 1 FROM ledger_record(
    v_ids,
    array_fill('award'::text, ARRAY[v_n]),
    array_fill('posted'::text, ARRAY[v_n]),
    array_fill(NULL::uuid, ARRAY[v_n]),
    array_fill(NULL::uuid, ARRAY[v_n]),
    array_fill(NULL::timestamptz, ARRAY[v_n]),
    (SELECT array_agg(jsonb_build_object('awardId', p_award, 'line', r.line)
                      || CASE WHEN r.ref <> '' THEN jsonb_build_object('reference', r.ref) ELSE '{}'::jsonb END ORDER BY r.n)
     FROM unnest(v_lines, v_refs) WITH ORDINALITY AS r(line, ref, n)),
    array_fill(v_description, ARRAY[v_n]),
    array_fill(NULL::timestamptz, ARRAY[v_n]),
    array_fill(v_expires, ARRAY[v_n]),
    -- per row: programme:issued debited (the door picks one of its balance rows for the whole
    -- chunk), the resident credited
    (SELECT array_agg(x.tx ORDER BY x.tx, x.k) FROM (SELECT n::int AS tx, k FROM generate_series(1, v_n) n, (VALUES (0), (1)) AS s(k)) x),
    (SELECT array_agg(CASE s.k WHEN 0 THEN v_issued ELSE r.account END ORDER BY r.n, s.k)
     FROM unnest(v_accounts) WITH ORDINALITY AS r(account, n), (VALUES (0), (1)) AS s(k)),
    array_fill(NULL::smallint, ARRAY[2 * v_n]),
    array_fill('POINTS'::text, ARRAY[2 * v_n]),
    (SELECT array_agg(CASE s.k WHEN 0 THEN 'D' ELSE 'C' END ORDER BY n.n, s.k) FROM generate_series(1, v_n) AS n(n), (VALUES (0), (1)) AS s(k)),
    (SELECT array_agg(r.points ORDER BY r.n, s.k) FROM unnest(v_points) WITH ORDINALITY AS r(points, n), (VALUES (0), (1)) AS s(k)),
    '{}'::bigint[]);

  SELECT sum(p) INTO v_total FROM unnest(v_points) AS p;
  -- last, so that the award's row (which every chunk updates) is held only until the commit
  UPDATE awards SET credited = credited + v_n, credited_points = credited_points + v_total, updated_at = now(),
    leased_until = now() + make_interval(secs => p_lease_seconds)
  WHERE id = p_award;

  RETURN QUERY SELECT v_n, v_lines[v_n], v_total, false;
END
$$;

DROP FUNCTION award_transaction_id(UUID, TEXT, TEXT);
