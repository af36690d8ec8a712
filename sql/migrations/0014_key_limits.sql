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
--   * ungrouped jobs without a key share the key '' (no per-key default applies to it; an override can).
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
-- so keyed claims of a queue take turns). Every statement here is volatile and takes a snapshot after
-- that lock, so the leases it counts are exact. Returns the locked jobs (the caller's UPDATE claims them,
-- all of them) and, when the claim stayed short while a key had work it could not start, one last row
-- without an id: in how many ms the earliest key held by its bucket has a token again (wait_ms), and how
-- many keys were at their concurrency limit (capped).
CREATE FUNCTION "{{schema}}"._flow_claim_keys(q text, budget integer, standalone boolean)
RETURNS TABLE (id bigint, priority smallint, sort_at timestamptz, wait_ms double precision, capped integer)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  s constant text := '{{schema}}';
  l "{{schema}}"._flow_limits%ROWTYPE;
  kexpr constant text := $k$coalesce(x.meta ->> 'arbiter:key', '')$k$;
  sa constant text := CASE WHEN standalone THEN ' AND x.parent_id IS NULL AND x.parent_state IS NULL' ELSE '' END;
  first_sql text;
  next_sql text;
  take_sql text;
  due_sql text;
  inflight jsonb;   -- key -> jobs holding a lease
  over jsonb;       -- key -> its configured override
  st jsonb := '{}'; -- key -> its bucket's tokens at `at` (read, then charged)
  o jsonb;
  k text;
  start text;
  first_turn boolean := true;
  wrapped boolean;
  taken integer := 0;
  visits integer := 0;
  max_visits integer;
  last_key text;
  last_visited text;
  active text[] := '{}';
  next_active text[] := '{}';
  idx integer := 0;
  cap integer;
  w integer;
  v_rate double precision;
  v_burst double precision;
  v_cost double precision;
  tok double precision;
  quantum integer;
  got integer;
  has_due boolean;
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
  first_sql := format('SELECT %s FROM %I.%I x WHERE x.group_key IS NULL AND NOT x.suspended ORDER BY 1 LIMIT 1',
                      kexpr, s, q);
  next_sql := format('SELECT %s FROM %I.%I x WHERE x.group_key IS NULL AND NOT x.suspended AND %s > $1'
                     ' ORDER BY 1 LIMIT 1', kexpr, s, q, kexpr);
  take_sql := format('SELECT x.id, x.priority, x.run_at FROM %I.%I x WHERE x.group_key IS NULL AND NOT x.suspended'
                     ' AND %s = $1 AND x.run_at <= now() AND x.attempts < x.max_attempts%s AND x.id <> ALL ($3)'
                     ' ORDER BY x.priority, x.run_at, x.id LIMIT $2 FOR NO KEY UPDATE OF x SKIP LOCKED',
                     s, q, kexpr, sa);
  due_sql := format('SELECT EXISTS (SELECT 1 FROM %I.%I x WHERE x.group_key IS NULL AND NOT x.suspended'
                    ' AND %s = $1 AND x.run_at <= now() AND x.attempts < x.max_attempts%s)', s, q, kexpr, sa);
  -- Keys visited per claim are bounded (a key without ready work costs a probe); the next claim goes on
  -- from where this one stopped.
  max_visits := budget * 4 + 64;
  start := l.rr_cursor;
  IF start IS NULL THEN
    wrapped := true;
    EXECUTE first_sql INTO k;
  ELSE
    wrapped := false;
    EXECUTE next_sql INTO k USING start;
    IF k IS NULL THEN
      wrapped := true;
      EXECUTE first_sql INTO k;
    END IF;
  END IF;
  LOOP
    IF first_turn THEN
      -- First turn: every key after the cursor, wrapping around once, the cursor's own key last.
      IF k IS NULL OR (wrapped AND start IS NOT NULL AND k > start) THEN
        first_turn := false;
        active := next_active; next_active := '{}'; idx := 0;
        CONTINUE;
      END IF;
    ELSE
      -- Further turns: the keys that used their whole weight and may have more.
      idx := idx + 1;
      IF idx > cardinality(active) THEN
        EXIT WHEN cardinality(next_active) = 0;
        active := next_active; next_active := '{}'; idx := 1;
      END IF;
      k := active[idx];
    END IF;
    visits := visits + 1;
    last_visited := k;
    -- The key's limits: its override, else the queue's per-key defaults (none for the key '').
    o := over -> k;
    cap := coalesce((o ->> 'max_in_flight')::int, CASE WHEN k = '' THEN NULL ELSE l.key_max_in_flight END);
    w := coalesce((o ->> 'weight')::int, 1);
    IF (o ->> 'rate_per_sec') IS NOT NULL THEN
      v_rate := (o ->> 'rate_per_sec')::float8; v_burst := (o ->> 'burst')::float8;
      v_cost := coalesce((o ->> 'cost')::float8, 1);
    ELSIF k <> '' AND l.key_rate_per_sec IS NOT NULL THEN
      v_rate := l.key_rate_per_sec; v_burst := l.key_burst; v_cost := l.key_cost;
    ELSE
      v_rate := NULL;
    END IF;
    quantum := least(w, budget - taken);
    IF cap IS NOT NULL AND coalesce((inflight ->> k)::int, 0) >= cap THEN
      quantum := 0;
      -- Counted (for the throttle metric) only when the key has work it now cannot start.
      IF first_turn THEN
        EXECUTE due_sql INTO has_due USING k;
        IF has_due THEN
          n_capped := n_capped + 1;
        END IF;
      END IF;
    ELSIF cap IS NOT NULL THEN
      quantum := least(quantum, cap - coalesce((inflight ->> k)::int, 0));
    END IF;
    IF v_rate IS NOT NULL AND quantum > 0 THEN
      IF st ? k THEN
        tok := (st ->> k)::float8;
      ELSE
        SELECT least(v_burst, coalesce(f.tokens, v_burst)
                            + v_rate * greatest(extract(epoch FROM at - coalesce(f.tokens_at, at)), 0))
        INTO tok FROM "{{schema}}"._flow_keys f WHERE f.queue = q AND f.key = k;
        tok := coalesce(tok, v_burst);
      END IF;
      IF floor(tok / v_cost) < quantum THEN
        quantum := greatest(floor(tok / v_cost)::int, 0);
        IF quantum = 0 THEN
          EXECUTE due_sql INTO has_due USING k;
          IF has_due THEN
            wait := least(coalesce(wait, 'infinity'), greatest((v_cost - tok) / v_rate * 1000, 1));
          END IF;
        END IF;
      END IF;
    END IF;
    got := 0;
    IF quantum > 0 THEN
      FOR r IN EXECUTE take_sql USING k, quantum, taken_ids LOOP
        id := r.id; priority := r.priority; sort_at := r.run_at; wait_ms := NULL; capped := NULL;
        RETURN NEXT;
        -- Rows this claim locked are not skipped by its own later turns: they are left out by id.
        taken_ids := taken_ids || r.id;
        got := got + 1;
      END LOOP;
    END IF;
    IF got > 0 THEN
      taken := taken + got;
      last_key := k;
      inflight := jsonb_set(inflight, ARRAY[k], to_jsonb(coalesce((inflight ->> k)::int, 0) + got));
      IF v_rate IS NOT NULL THEN
        st := jsonb_set(st, ARRAY[k], to_jsonb(tok - got * v_cost));
      END IF;
      IF got = w THEN
        next_active := next_active || k;
      END IF;
    END IF;
    EXIT WHEN taken >= budget OR visits >= max_visits;
    IF first_turn THEN
      IF wrapped AND start IS NOT NULL AND k = start THEN
        k := NULL;
      ELSE
        EXECUTE next_sql INTO k USING k;
        IF k IS NULL AND NOT wrapped THEN
          wrapped := true;
          EXECUTE first_sql INTO k;
        END IF;
      END IF;
    END IF;
  END LOOP;
  -- The next claim starts after the key this one served last (or visited last, when it served none).
  UPDATE "{{schema}}"._flow_limits f SET rr_cursor = coalesce(last_key, last_visited)
  WHERE f.queue = q AND coalesce(last_key, last_visited) IS NOT NULL
    AND f.rr_cursor IS DISTINCT FROM coalesce(last_key, last_visited);
  -- The buckets of the keys served: their tokens after this claim.
  IF st <> '{}' THEN
    INSERT INTO "{{schema}}"._flow_keys AS f (queue, key, tokens, tokens_at)
    SELECT q, e.key, e.value::text::float8, at FROM jsonb_each(st) e
    ON CONFLICT (queue, key) DO UPDATE SET tokens = EXCLUDED.tokens, tokens_at = EXCLUDED.tokens_at;
  END IF;
  IF taken < budget AND (wait IS NOT NULL OR n_capped > 0) THEN
    id := NULL; priority := NULL; sort_at := NULL; wait_ms := wait; capped := n_capped;
    RETURN NEXT;
  END IF;
END
$fn$;
