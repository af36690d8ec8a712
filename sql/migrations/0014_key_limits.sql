-- Arbiter schema, version 14: limits per key and fair share across keys, enforced inside the claim.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- A job may carry a limit key (a tenant, an API account), kept in its meta under "arbiter:key" so that it
-- travels with the job through retries, dead letters and history without a column on every queue table.
-- A queue whose limits have a per-key part (_flow_limits.per_key) is claimed per key, in turns:
--   * every key with ready work is visited in key order, starting after the key the previous claim ended
--     on (rr_cursor), and gives at most its weight of jobs per turn (weighted round-robin), so a key with a
--     large backlog cannot delay another key's job by more than about one turn;
--   * a key takes no more than its concurrency left (jobs holding a lease, counted after the queue's
--     limits row is locked, so exactly, as the queue cap is) and than its token bucket pays for;
--   * ungrouped jobs without a key share the key '' (no per-key limit applies to it).
-- Grouped jobs cannot carry a limit key (the enqueue refuses it) and are claimed by the usual group walk.
--
-- Per-key defaults live on the queue's _flow_limits row; overrides and per-key bucket state in
-- _flow_keys. Claims of a keyed queue read keys through an index built when the per-key part is first
-- set (`<queue>_key_idx`, on the key, priority and run_at of ungrouped jobs); queues without it pay
-- nothing.

ALTER TABLE "{{schema}}"._flow_limits
  ADD COLUMN per_key boolean NOT NULL DEFAULT false,
  ADD COLUMN key_max_in_flight integer CHECK (key_max_in_flight >= 1),
  ADD COLUMN key_rate_per_sec double precision CHECK (key_rate_per_sec > 0 AND key_rate_per_sec <= 1e6),
  ADD COLUMN key_burst double precision CHECK (key_burst > 0 AND key_burst <= 1e9),
  ADD COLUMN key_cost double precision NOT NULL DEFAULT 1 CHECK (key_cost > 0 AND key_cost <= 1e9),
  ADD COLUMN rr_cursor text,
  ADD CONSTRAINT _flow_limits_key_rate_pair CHECK ((key_rate_per_sec IS NULL) = (key_burst IS NULL)),
  ADD CONSTRAINT _flow_limits_key_burst_cost CHECK (key_rate_per_sec IS NULL OR key_burst >= key_cost);

-- Per key: an override of the queue's per-key defaults (configured), and the key's bucket state.
CREATE TABLE "{{schema}}"._flow_keys (
  queue text NOT NULL,
  key text NOT NULL,
  configured boolean NOT NULL DEFAULT false,
  max_in_flight integer CHECK (max_in_flight >= 1),
  weight integer CHECK (weight >= 1 AND weight <= 1000),
  rate_per_sec double precision CHECK (rate_per_sec > 0 AND rate_per_sec <= 1e6),
  burst double precision CHECK (burst > 0 AND burst <= 1e9),
  cost double precision CHECK (cost > 0 AND cost <= 1e9),
  tokens double precision,
  tokens_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, key),
  CHECK ((rate_per_sec IS NULL) = (burst IS NULL)),
  CHECK (rate_per_sec IS NULL OR burst >= coalesce(cost, 1))
);

-- Claims up to `budget` ungrouped jobs of keyed queue q for the claim in progress, key by key in turns.
-- Must run after _flow_admit in the same transaction (which holds the queue's limits row until commit,
-- so keyed claims of a queue take turns). Every statement here takes a snapshot after that lock, so the
-- leases it counts are exact. Returns the locked jobs (the caller's UPDATE claims them, all of them) and,
-- when the claim stayed short while a key had work it could not start, one last row without an id: in
-- how many ms the earliest key held by its bucket has a token again (wait_ms), and how many keys were at
-- their concurrency limit (capped).
--
-- A turn is one statement: the turn's keys in key order (a loose scan of the key index, or a list), each
-- key's quota beside it (its weight times the turn's multiplier, within its concurrency left and its
-- tokens), and the key's due jobs taken by priority level, oldest first, up to the quota, with SKIP
-- LOCKED. The first turn visits every key once, from the key after the cursor (where the previous claim
-- stopped) around to the cursor's own; later turns visit only the keys that used their whole quota, with
-- a multiplier that spends the rest of the budget in proportion to their weights.
CREATE FUNCTION "{{schema}}"._flow_claim_keys(q text, budget integer, standalone boolean)
RETURNS TABLE (id bigint, priority smallint, sort_at timestamptz, wait_ms double precision, capped integer)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  s constant text := '{{schema}}';
  l "{{schema}}"._flow_limits%ROWTYPE;
  kexpr constant text := $k$coalesce(x.meta ->> 'arbiter:key', '')$k$;
  base constant text := 'x.group_key IS NULL AND NOT x.suspended';
  sa constant text := CASE WHEN standalone THEN ' AND x.parent_id IS NULL AND x.parent_state IS NULL' ELSE '' END;
  scan_tpl text;
  scan_all text;
  scan_after text;
  scan_upto text;
  list_keys text;
  turn_tail text;
  inflight jsonb;   -- key -> jobs holding a lease
  over jsonb;       -- key -> its configured override
  t_keys text[];    -- per job taken this turn: its key, its key's quota, tokens read and cost (bucket)
  t_quota integer[];
  t_tok double precision[];
  t_cost double precision[];
  turn_full text[];
  phase text := 'first';
  active text[] := '{}';
  next_active text[] := '{}';
  start text;
  taken integer := 0;
  mult integer := 1;
  wsum integer;
  last_key text;
  visited text;
  n_keys integer := 0;
  wait double precision;
  n_capped integer := 0;
  taken_ids bigint[] := '{}';
  at timestamptz := clock_timestamp();
  r record;
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  SELECT * INTO l FROM "{{schema}}"._flow_limits f WHERE f.queue = q;
  IF NOT FOUND OR NOT l.per_key OR budget <= 0 THEN
    RETURN;
  END IF;
  EXECUTE format('SELECT coalesce(jsonb_object_agg(c.k, c.n), ''{}'') FROM (SELECT %s AS k, count(*) AS n'
                 ' FROM %I.%I x WHERE x.leased_until IS NOT NULL GROUP BY 1) c', kexpr, s, q) INTO inflight;
  SELECT coalesce(jsonb_object_agg(f.key, jsonb_build_object('max_in_flight', f.max_in_flight, 'weight', f.weight,
           'rate_per_sec', f.rate_per_sec, 'burst', f.burst, 'cost', f.cost)), '{}') INTO over
  FROM "{{schema}}"._flow_keys f WHERE f.queue = q AND f.configured;
  -- The keys of a turn: those with ungrouped jobs, at most $3 of them, in key order: all of them, or those
  -- after $1 (exclusive), or those up to $2 (inclusive). Each bound is its own statement so that it is an
  -- index condition (a bound written as "$1 IS NULL OR ..." is only a filter, and the scan would walk
  -- every job of the keys before it); or the keys of the array $13.
  scan_tpl := 'WITH RECURSIVE ks(k, n) AS ('
              '(SELECT %1$s, 1 FROM %2$I.%3$I x WHERE %4$s %5$s ORDER BY 1 LIMIT 1)'
              ' UNION ALL SELECT (SELECT %1$s FROM %2$I.%3$I x WHERE %4$s AND %1$s > ks.k %6$s'
              ' ORDER BY 1 LIMIT 1), ks.n + 1 FROM ks WHERE ks.k IS NOT NULL AND ks.n < $3), '
              'keys AS (SELECT ks.k FROM ks WHERE ks.k IS NOT NULL), ';
  scan_all := format(scan_tpl, kexpr, s, q, base, '', '');
  scan_after := format(scan_tpl, kexpr, s, q, base, format('AND %s > $1', kexpr), '');
  scan_upto := format(scan_tpl, kexpr, s, q, base, format('AND %s <= $2', kexpr), format('AND %s <= $2', kexpr));
  list_keys := 'WITH RECURSIVE keys AS (SELECT u.k FROM unnest($13::text[]) u(k)), ';
  -- Per key: its limits (its override, else the defaults, none of which apply to the key ''), its bucket
  -- refilled to now, its quota; then its due jobs by priority level (a loose scan of its levels, so jobs
  -- due later are never walked) up to the quota. A key that takes nothing still yields one row without a
  -- job, saying whether it had due work (then its limit or its bucket held it back).
  turn_tail := format(
    'lim AS (SELECT k.k, coalesce((o.v ->> ''weight'')::int, 1) AS w,'
    '   coalesce((o.v ->> ''max_in_flight'')::int, CASE WHEN k.k = '''' THEN NULL ELSE $4 END) AS cap,'
    '   CASE WHEN o.v ->> ''rate_per_sec'' IS NOT NULL THEN (o.v ->> ''rate_per_sec'')::float8'
    '        WHEN k.k <> '''' THEN $5 END AS rate,'
    '   CASE WHEN o.v ->> ''rate_per_sec'' IS NOT NULL THEN (o.v ->> ''burst'')::float8 ELSE $6 END AS burst,'
    '   CASE WHEN o.v ->> ''rate_per_sec'' IS NOT NULL THEN coalesce((o.v ->> ''cost'')::float8, 1) ELSE $7 END AS cost,'
    '   f.tokens, f.tokens_at'
    ' FROM keys k CROSS JOIN LATERAL (SELECT $8::jsonb -> k.k AS v) o'
    ' LEFT JOIN %2$I._flow_keys f ON f.queue = %5$L AND f.key = k.k),'
    ' tk AS (SELECT lim.*, CASE WHEN lim.rate IS NOT NULL THEN least(lim.burst, coalesce(lim.tokens, lim.burst)'
    '   + lim.rate * greatest(extract(epoch FROM $11::timestamptz - coalesce(lim.tokens_at, $11::timestamptz)), 0)) END AS tok'
    '   FROM lim),'
    ' quo AS (SELECT tk.*, coalesce(($9::jsonb ->> tk.k)::int, 0) AS inf, least(tk.w * $10,'
    '   CASE WHEN tk.cap IS NULL THEN 2147483647 ELSE greatest(tk.cap - coalesce(($9::jsonb ->> tk.k)::int, 0), 0) END,'
    '   CASE WHEN tk.rate IS NULL THEN 2147483647 ELSE greatest(floor(tk.tok / tk.cost), 0)::int END) AS quota'
    '   FROM tk)'
    ' SELECT qu.k, qu.w, qu.quota, qu.tok, qu.cost, qu.rate, qu.cap IS NOT NULL AND qu.inf >= qu.cap AS at_cap,'
    '   t.id, t.priority, t.run_at,'
    '   CASE WHEN qu.quota = 0 THEN EXISTS ('
    '     WITH RECURSIVE lv(p) AS ((SELECT x.priority FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k ORDER BY x.priority LIMIT 1)'
    '       UNION ALL SELECT (SELECT x.priority FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k AND x.priority > lv.p'
    '         ORDER BY x.priority LIMIT 1) FROM lv WHERE lv.p IS NOT NULL)'
    '     SELECT 1 FROM lv CROSS JOIN LATERAL (SELECT 1 FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k'
    '       AND x.priority = lv.p AND x.run_at <= now() AND x.attempts < x.max_attempts%6$s LIMIT 1) d'
    '     WHERE lv.p IS NOT NULL) END AS has_due'
    ' FROM quo qu LEFT JOIN LATERAL ('
    '   WITH RECURSIVE lv(p) AS ((SELECT x.priority FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k ORDER BY x.priority LIMIT 1)'
    '     UNION ALL SELECT (SELECT x.priority FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k AND x.priority > lv.p'
    '       ORDER BY x.priority LIMIT 1) FROM lv WHERE lv.p IS NOT NULL)'
    '   SELECT u.id, u.priority, u.run_at FROM lv CROSS JOIN LATERAL ('
    '     SELECT x.id, x.priority, x.run_at FROM %2$I.%3$I x WHERE %4$s AND %1$s = qu.k AND x.priority = lv.p'
    '       AND x.run_at <= now() AND x.attempts < x.max_attempts%6$s AND x.id <> ALL ($12)'
    '     ORDER BY x.run_at, x.id LIMIT qu.quota FOR NO KEY UPDATE OF x SKIP LOCKED) u'
    '   WHERE lv.p IS NOT NULL AND qu.quota > 0 LIMIT qu.quota) t ON true',
    kexpr, s, q, base, q, sa);
  start := l.rr_cursor;
  LOOP
    EXIT WHEN taken >= budget;
    IF phase = 'active' THEN
      active := next_active;
      next_active := '{}';
      EXIT WHEN cardinality(active) = 0;
      SELECT sum(coalesce((over -> a ->> 'weight')::int, 1)) INTO wsum FROM unnest(active) a;
      mult := greatest(1, (budget - taken) / greatest(wsum, 1));
    END IF;
    t_keys := '{}'; t_quota := '{}'; t_tok := '{}'; t_cost := '{}';
    FOR r IN EXECUTE CASE WHEN phase = 'active' THEN list_keys WHEN phase = 'wrap' THEN scan_upto
                          WHEN start IS NULL THEN scan_all ELSE scan_after END || turn_tail
      USING start, start,
            budget * 4 + 64,
            l.key_max_in_flight, l.key_rate_per_sec, l.key_burst, l.key_cost,
            over, inflight, mult, at, taken_ids, active
    LOOP
      IF r.k IS DISTINCT FROM visited THEN
        visited := r.k;
        n_keys := n_keys + 1;
      END IF;
      IF r.id IS NULL THEN
        IF r.has_due THEN
          IF r.at_cap THEN
            n_capped := n_capped + 1;
          ELSIF r.rate IS NOT NULL THEN
            wait := least(coalesce(wait, 'infinity'), greatest((r.cost - r.tok) / r.rate * 1000, 1));
          END IF;
        END IF;
        CONTINUE;
      END IF;
      id := r.id; priority := r.priority; sort_at := r.run_at; wait_ms := NULL; capped := NULL;
      RETURN NEXT;
      taken := taken + 1;
      taken_ids := taken_ids || r.id;
      last_key := r.k;
      -- Appended in place (plpgsql expands arrays), summed per key after the turn.
      t_keys := t_keys || r.k;
      t_quota := t_quota || r.quota;
      t_tok := t_tok || r.tok;
      t_cost := t_cost || CASE WHEN r.rate IS NOT NULL THEN r.cost END;
      EXIT WHEN taken >= budget;
    END LOOP;
    -- What the turn took, per key: leases counted, buckets charged (the next turn reads them back), and
    -- the keys that took their whole quota, which may have more: the next turn visits them again (a key
    -- its limit or bucket stopped then takes nothing, and says why).
    IF cardinality(t_keys) > 0 THEN
      SELECT inflight || coalesce(jsonb_object_agg(a.k, coalesce((inflight ->> a.k)::int, 0) + a.n), '{}'),
             coalesce(array_agg(a.k ORDER BY a.k) FILTER (WHERE a.n >= a.quota), '{}')
        INTO inflight, turn_full
        FROM (SELECT u.k, count(*)::int AS n, min(u.quota) AS quota
              FROM unnest(t_keys, t_quota) AS u(k, quota) GROUP BY u.k) a;
      next_active := next_active || turn_full;
      INSERT INTO "{{schema}}"._flow_keys AS f (queue, key, tokens, tokens_at)
      SELECT q, a.k, a.tok - a.n * a.cost, at
      FROM (SELECT u.k, count(*)::int AS n, min(u.tok) AS tok, min(u.cost) AS cost
            FROM unnest(t_keys, t_tok, t_cost) AS u(k, tok, cost) WHERE u.cost IS NOT NULL GROUP BY u.k) a
      ON CONFLICT (queue, key) DO UPDATE SET tokens = EXCLUDED.tokens, tokens_at = EXCLUDED.tokens_at;
    END IF;
    -- Around to the cursor's own key only when the first turn reached the last key: a turn cut short by
    -- the bound on keys visited leaves the rest to the next claim, which starts where this one stopped.
    phase := CASE WHEN phase = 'first' AND start IS NOT NULL AND n_keys < budget * 4 + 64 THEN 'wrap'
                  ELSE 'active' END;
    n_keys := 0;
  END LOOP;
  -- The next claim starts after the key this one served last (or visited last, when it served none).
  last_key := coalesce(last_key, visited);
  IF last_key IS NOT NULL THEN
    UPDATE "{{schema}}"._flow_limits f SET rr_cursor = last_key
    WHERE f.queue = q AND f.rr_cursor IS DISTINCT FROM last_key;
  END IF;
  IF taken < budget AND (wait IS NOT NULL OR n_capped > 0) THEN
    id := NULL; priority := NULL; sort_at := NULL; wait_ms := wait; capped := n_capped;
    RETURN NEXT;
  END IF;
END
$fn$;
