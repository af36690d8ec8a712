-- Arbiter schema, version 12: awaitable results and dependencies between jobs (flows).
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- A job is *tracked* when something waits for it: it was enqueued with `result`, it is a node of a flow,
-- it depends on other jobs, or another job depends on it. A tracked job carries the key "arbiter" in its
-- `meta` (which travels with it to the dead-letter table, the history table and back on a retry) and has
-- one row in _tracked_jobs. Plain jobs have neither, and pay nothing but the WHEN clause of one trigger.
--
-- When a tracked job leaves its queue table, the AFTER DELETE trigger <q>_track records how it ended:
--   failed     a dead letter for it was written by the same statement (every dead-letter move is one
--              statement: delete and insert), its error the dead letter's;
--   cancelled  the deleting transaction set arbiter.finish = 'cancelled' (every cancel path does);
--   succeeded  otherwise (an ack, a keep into the history table). A worker that knows the job is tracked
--              writes the handler's result in the same transaction first.
-- It then notifies `arbiter.done:<schema>` ("queue:id:state") for the processes awaiting it, and settles
-- the jobs that depend on it (_track_settle). Everything runs in the finishing transaction, so a
-- dependent is released exactly when its last dependency's completion commits, and never twice: the
-- count of unfinished dependencies is a column decremented under the dependent's row lock.

CREATE TABLE "{{schema}}"._flows (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text,
  -- the nodes in definition order, [{ name, queue, dependsOn: [names], onFailure }]: what the dashboard draws.
  graph jsonb NOT NULL,
  node_count integer NOT NULL,
  retain_ms bigint NOT NULL,
  cancelled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE "{{schema}}"._tracked_jobs (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  state text NOT NULL DEFAULT 'unfinished' CHECK (state IN ('unfinished', 'succeeded', 'failed', 'cancelled')),
  result jsonb,
  error text,
  flow_id bigint,
  node text,
  -- dependencies not yet satisfied (a dependent's job stays suspended while this is above zero)
  deps_pending integer NOT NULL DEFAULT 0 CHECK (deps_pending >= 0),
  -- what this job does when one of its dependencies fails: 'cancel' (it does not run) or 'continue'
  on_dep_failure text NOT NULL DEFAULT 'cancel' CHECK (on_dep_failure IN ('cancel', 'continue')),
  retain_ms bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  expires_at timestamptz,
  PRIMARY KEY (queue, job_id)
);
CREATE INDEX _tracked_jobs_flow_idx ON "{{schema}}"._tracked_jobs (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX _tracked_jobs_expiry_idx ON "{{schema}}"._tracked_jobs (expires_at)
  WHERE expires_at IS NOT NULL AND flow_id IS NULL;

-- One row per dependency edge: (queue, job_id) waits for (dep_queue, dep_job_id).
--   state  pending until the dependency finishes, then its final state.
CREATE TABLE "{{schema}}"._job_deps (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  dep_queue text NOT NULL,
  dep_job_id bigint NOT NULL,
  state text NOT NULL DEFAULT 'unfinished' CHECK (state IN ('unfinished', 'succeeded', 'failed', 'cancelled')),
  PRIMARY KEY (queue, job_id, dep_queue, dep_job_id)
);
CREATE INDEX _job_deps_dep_idx ON "{{schema}}"._job_deps (dep_queue, dep_job_id);

-- Settles the dependents of (q, id), which just finished in state st. A satisfied edge (the dependency
-- succeeded, or failed under a dependent's 'continue') counts down the dependent's deps_pending, and the
-- dependent's job is resumed when it reaches zero. Under 'cancel', a failed or cancelled dependency
-- cancels the dependent: its job stays parked (suspended) in its queue, so retrying the failed job from
-- the dead-letter table can bring it back (_track_requeue), and its own dependents are settled in turn.
CREATE FUNCTION "{{schema}}"._track_settle(q text, id bigint, st text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  e record;
  d "{{schema}}"._tracked_jobs%ROWTYPE;
  n integer;
  label text;
BEGIN
  SELECT coalesce(t.node, q || '/' || id) INTO label FROM "{{schema}}"._tracked_jobs t
  WHERE t.queue = q AND t.job_id = id;
  -- Dependents in key order: concurrent settlements lock them in one order.
  FOR e IN
    WITH u AS (
      UPDATE "{{schema}}"._job_deps x SET state = st
      WHERE x.dep_queue = q AND x.dep_job_id = id AND x.state = 'unfinished'
      RETURNING x.queue, x.job_id
    )
    SELECT u.queue, u.job_id FROM u ORDER BY u.queue, u.job_id
  LOOP
    SELECT * INTO d FROM "{{schema}}"._tracked_jobs t WHERE t.queue = e.queue AND t.job_id = e.job_id FOR UPDATE;
    IF NOT FOUND THEN
      CONTINUE;
    END IF;
    IF st = 'succeeded' OR d.on_dep_failure = 'continue' THEN
      UPDATE "{{schema}}"._tracked_jobs t SET deps_pending = t.deps_pending - 1
      WHERE t.queue = e.queue AND t.job_id = e.job_id RETURNING t.deps_pending INTO n;
      IF n = 0 AND d.state = 'unfinished' THEN
        EXECUTE format('UPDATE %I.%I SET suspended = false, run_at = now(), updated_at = now()'
                       ' WHERE id = $1 AND suspended', '{{schema}}', e.queue) USING e.job_id;
      END IF;
    ELSIF d.state = 'unfinished' THEN
      UPDATE "{{schema}}"._tracked_jobs t SET state = 'cancelled', finished_at = now(),
        error = format('dependency %s %s', label, st),
        expires_at = now() + t.retain_ms * interval '1 millisecond'
      WHERE t.queue = e.queue AND t.job_id = e.job_id;
      PERFORM pg_notify(left('arbiter.done:{{schema}}', 63), e.queue || ':' || e.job_id || ':cancelled');
      PERFORM "{{schema}}"._track_settle(e.queue, e.job_id, 'cancelled');
    END IF;
  END LOOP;
END
$fn$;

-- The AFTER DELETE trigger function of every queue table, for tracked rows only (see the header).
CREATE FUNCTION "{{schema}}"._track_finished() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  q text := TG_TABLE_NAME;
  st text;
  err text;
  cur text;
BEGIN
  SELECT t.state INTO cur FROM "{{schema}}"._tracked_jobs t WHERE t.queue = q AND t.job_id = OLD.id FOR UPDATE;
  IF NOT FOUND OR cur <> 'unfinished' THEN
    -- Not tracked here, or already settled (a cancelled dependent parked in its queue, now removed).
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT coalesce(d.last_error, '''') FROM %I.%I d WHERE d.job_id = $1 ORDER BY d.id DESC LIMIT 1',
                 '{{schema}}', q || '_dlq') INTO err USING OLD.id;
  IF err IS NOT NULL THEN
    st := 'failed';
  ELSIF current_setting('arbiter.finish', true) = 'cancelled' THEN
    st := 'cancelled';
    err := 'cancelled';
  ELSE
    st := 'succeeded';
  END IF;
  UPDATE "{{schema}}"._tracked_jobs t SET state = st, error = err, finished_at = now(),
    result = CASE WHEN st = 'succeeded' THEN t.result END,
    expires_at = now() + t.retain_ms * interval '1 millisecond'
  WHERE t.queue = q AND t.job_id = OLD.id;
  PERFORM pg_notify(left('arbiter.done:{{schema}}', 63), q || ':' || OLD.id || ':' || st);
  PERFORM "{{schema}}"._track_settle(q, OLD.id, st);
  RETURN NULL;
END
$fn$;

-- A dead letter of a tracked job was retried: the job is back in queue q under a new id. Its tracked row
-- and edges follow it, it is pending again, and the dependents its failure cancelled are pending again
-- too (transitively), unless another of their dependencies still stands failed.
CREATE FUNCTION "{{schema}}"._track_requeue(q text, old_id bigint, new_id bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE "{{schema}}"._tracked_jobs t SET job_id = new_id, state = 'unfinished', error = NULL, result = NULL,
    finished_at = NULL, expires_at = NULL
  WHERE t.queue = q AND t.job_id = old_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE "{{schema}}"._job_deps x SET job_id = new_id WHERE x.queue = q AND x.job_id = old_id;
  UPDATE "{{schema}}"._job_deps x SET dep_job_id = new_id WHERE x.dep_queue = q AND x.dep_job_id = old_id;
  PERFORM "{{schema}}"._track_uncancel(q, new_id);
END
$fn$;

CREATE FUNCTION "{{schema}}"._track_uncancel(q text, id bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  e record;
BEGIN
  FOR e IN
    UPDATE "{{schema}}"._job_deps x SET state = 'unfinished'
    FROM "{{schema}}"._tracked_jobs d
    WHERE x.dep_queue = q AND x.dep_job_id = id AND x.state IN ('failed', 'cancelled')
      AND d.queue = x.queue AND d.job_id = x.job_id AND d.on_dep_failure = 'cancel'
    RETURNING x.queue, x.job_id
  LOOP
    UPDATE "{{schema}}"._tracked_jobs t SET state = 'unfinished', error = NULL, finished_at = NULL, expires_at = NULL
    WHERE t.queue = e.queue AND t.job_id = e.job_id AND t.state = 'cancelled'
      AND NOT EXISTS (SELECT 1 FROM "{{schema}}"._job_deps o
                      WHERE o.queue = e.queue AND o.job_id = e.job_id AND o.state IN ('failed', 'cancelled'));
    IF FOUND THEN
      PERFORM "{{schema}}"._track_uncancel(e.queue, e.job_id);
    END IF;
  END LOOP;
END
$fn$;

-- Creates queue q's tracking trigger (idempotent).
CREATE FUNCTION "{{schema}}"._create_track_trigger(q text) RETURNS void
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', q || '_track', s, q);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I.%I FOR EACH ROW WHEN (OLD.meta ? ''arbiter'')'
                 ' EXECUTE FUNCTION %I._track_finished()', q || '_track', s, q, s);
END
$create$;

-- Removes what retention no longer keeps, at most `lim` rows of each kind: standalone tracked jobs past
-- their expiry, and whole flows whose every node finished longer than the flow's retention ago (their
-- nodes and edges with them, and the jobs of nodes a failure cancelled, still parked in their queues).
-- Returns the rows removed.
CREATE FUNCTION "{{schema}}"._track_prune(lim integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  n integer := 0;
  m integer;
  ids bigint[];
  r record;
BEGIN
  WITH gone AS (
    DELETE FROM "{{schema}}"._tracked_jobs t WHERE t.ctid = ANY (ARRAY(
      SELECT x.ctid FROM "{{schema}}"._tracked_jobs x
      WHERE x.expires_at < now() AND x.flow_id IS NULL ORDER BY x.expires_at LIMIT lim))
    RETURNING t.queue, t.job_id
  )
  DELETE FROM "{{schema}}"._job_deps x USING gone g WHERE x.queue = g.queue AND x.job_id = g.job_id;
  GET DIAGNOSTICS m = ROW_COUNT;
  n := n + m;
  SELECT array_agg(d.id) INTO ids FROM (
    SELECT f.id FROM "{{schema}}"._flows f
    WHERE NOT EXISTS (SELECT 1 FROM "{{schema}}"._tracked_jobs t
                      WHERE t.flow_id = f.id AND (t.state = 'unfinished' OR t.expires_at >= now()))
      AND f.created_at < now() - f.retain_ms * interval '1 millisecond'
    ORDER BY f.id LIMIT lim) d;
  IF ids IS NULL THEN
    RETURN n;
  END IF;
  FOR r IN SELECT t.queue, t.job_id FROM "{{schema}}"._tracked_jobs t
           WHERE t.flow_id = ANY (ids) AND t.state = 'cancelled' ORDER BY t.queue, t.job_id LOOP
    BEGIN
      EXECUTE format('DELETE FROM %I.%I WHERE id = $1 AND suspended', '{{schema}}', r.queue) USING r.job_id;
    EXCEPTION WHEN undefined_table THEN
      NULL; -- its queue was dropped
    END;
  END LOOP;
  WITH nodes AS (
    DELETE FROM "{{schema}}"._tracked_jobs t WHERE t.flow_id = ANY (ids) RETURNING t.queue, t.job_id
  ),
  edges AS (
    DELETE FROM "{{schema}}"._job_deps x USING nodes g WHERE x.queue = g.queue AND x.job_id = g.job_id
  )
  DELETE FROM "{{schema}}"._flows f WHERE f.id = ANY (ids);
  GET DIAGNOSTICS m = ROW_COUNT;
  RETURN n + m;
END
$fn$;

-- _create_queue keeps its earlier body under another name and gains the tracking trigger.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_before_0012;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_before_0012(q);
  IF created THEN
    PERFORM "{{schema}}"._create_track_trigger(q);
  END IF;
  RETURN created;
END
$create$;

-- Upgrade existing queues.
DO $upgrade$
DECLARE
  q text;
BEGIN
  FOR q IN SELECT name FROM "{{schema}}"._queues ORDER BY name LOOP
    PERFORM "{{schema}}"._create_track_trigger(q);
  END LOOP;
END
$upgrade$;
