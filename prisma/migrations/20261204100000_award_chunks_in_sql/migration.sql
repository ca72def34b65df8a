-- Bulk awards: a chunk credited in one statement (issue 18's speed goals). First merged as
-- 20261203300000_award_chunks_in_sql and reverted (a debt paid from a stale read, and the door's
-- lock order lost: both fixed, see award-executor.service.ts and the door's lock step).
--
-- What this rewrite needs of the door (every account and balance row looked up by its key, so
-- that a chunk of 2,000 credits is never joined to ledger_accounts or account_balances read
-- whole: work that grew with every account a prize day opens, the bench's awards ran at 0.14x
-- their ceiling at 300,000 rows; and the lock step's sorted order) is in the door's definition
-- of 20261204300000_door_plans, written beside this one and merged there.
--
-- Before, each chunk read its rows into the process, built 2,000 transactions there and sent them
-- back as arrays: JavaScript work on the serving process's event loop (the balance reads waited
-- behind it) and garbage that grew the process. award_credit_chunk does the same in the
-- database, still through the ledger's one door (ledger_record) and still in the caller's
-- transaction: it locks the chunk's pending rows (rows another chunk holds are skipped), opens
-- the residents' accounts that do not exist yet, marks the rows credited, writes their credits
-- with ledger_record in one call, and adds the chunk to the award's progress (renewing the
-- lease). A row is marked credited in the transaction that writes its credit, as before.
--
-- What it leaves to the caller (returns fallback = true, having credited nothing): a chunk with a
-- resident who owes points (the debt is paid first, computed by the accrual rule in the
-- service), an award whose expiry has passed, no programme:issued account yet, or a resident
-- account a concurrent transaction created after the statement began. A chunk the
-- door refuses raises, and the caller credits it row by row to put each refusal in the error file.

-- The transaction id of an award's row: as awardTransactionId (src/awards/domain/award.ts) makes
-- it, an RFC 9562 version 8 UUID from SHA-256 of 'award', the award, the resident and the
-- reference, NUL-separated.
CREATE FUNCTION award_transaction_id(p_award UUID, p_resident TEXT, p_reference TEXT) RETURNS UUID
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT encode(set_byte(set_byte(substring(h FROM 1 FOR 16), 6, (get_byte(h, 6) & 15) | 128), 8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid
  FROM (SELECT sha256('award'::bytea || '\x00'::bytea || convert_to(p_award::text, 'UTF8') || '\x00'::bytea
                      || convert_to(p_resident, 'UTF8') || '\x00'::bytea || convert_to(p_reference, 'UTF8')) AS h) x
$$;

CREATE FUNCTION award_credit_chunk(p_award UUID, p_after INT, p_limit INT, p_lease_seconds INT)
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
BEGIN
  SELECT a.description, a.expires_at INTO v_description, v_expires FROM awards a WHERE a.id = p_award;
  SELECT a.id INTO v_issued FROM ledger_accounts a WHERE a.code = 'programme:issued' AND a.asset = 'POINTS';

  -- the chunk: up to p_limit pending rows after line p_after, in line order, locked
  -- (the aggregates take the rows in the subquery's line order)
  SELECT array_agg(r.line), array_agg(r.resident_id), array_agg(r.reference), array_agg(r.points),
         array_agg(award_transaction_id(p_award, r.resident_id, r.reference))
    INTO v_lines, v_residents, v_refs, v_points, v_ids
  FROM (SELECT w.line, w.resident_id, w.reference, w.points FROM award_rows w
        WHERE w.award_id = p_award AND w.status = 'pending' AND w.line > p_after
        ORDER BY w.line LIMIT p_limit FOR UPDATE SKIP LOCKED) r;
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
