-- Arbiter schema, version 13: durable steps inside a handler (ctx.step, ctx.sleep, ctx.waitFor).
-- Schema-wide tables keyed by queue and job id: no per-queue objects, and plain jobs never touch them (a
-- job writes here only when its handler calls a step method).

-- One row per finished step of a job. A re-run of the job (retry, crash, wake-up after a sleep or an
-- event) replays its handler, and each step already here returns its stored result instead of running.
-- Written fenced by the job's attempt and lease (the job row is share-locked and checked in the same
-- statement), so a stale attempt never records a step. `kind`: step (ctx.step), sleep (its wake time),
-- event (the payload that released a waitFor), timeout (a waitFor that timed out).
-- Rows go when their job is gone from the queue, its history and its dead letters (maintenance sweep).
CREATE TABLE "{{schema}}"._steps (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  result jsonb,
  attempt integer NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, job_id, name)
);

-- What a parked job waits for: an event (until its timeout, or for ever when `until` is null) or the end
-- of a sleep. At most one per job; `step` is the step the release records.
CREATE TABLE "{{schema}}"._waits (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  step text NOT NULL,
  kind text NOT NULL,
  event text,
  until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, job_id)
);
CREATE INDEX _waits_event_idx ON "{{schema}}"._waits (event) WHERE event IS NOT NULL;

-- Events emitted by name (latched: a waitFor that starts after the emit returns the stored payload at
-- once; a later emit of the same name replaces it). Pruned by age (maintenance).
CREATE TABLE "{{schema}}"._events (
  name text PRIMARY KEY,
  payload jsonb,
  emitted_at timestamptz NOT NULL DEFAULT now(),
  emits integer NOT NULL DEFAULT 1,
  released integer NOT NULL DEFAULT 0
);
CREATE INDEX _events_emitted_idx ON "{{schema}}"._events (emitted_at);

-- Parking and emitting serialize per event name on one advisory lock, taken before anything is read
-- (each statement of these functions then reads with a snapshot taken after the lock). So either the
-- park commits first and the emit finds the waiter, or the emit does and the park finds the event:
-- a waiter is never missed, and each wait row is released exactly once.

-- Parks a held job until `ev` is emitted or `timeout_ms` passes (null: no timeout), or returns at once:
-- {"state":"released","result":…} (emitted, now or before), {"state":"timeout"}, {"state":"fenced"}
-- (the caller no longer holds the job) or {"state":"parked","until":…}. A parked job has no lease and
-- its attempt is refunded; with a timeout it is due at `until` (it then runs and this returns timeout),
-- without one it is suspended until the emit.
CREATE FUNCTION "{{schema}}"._wait_event(q text, jid bigint, att integer, step_name text, ev text,
                                         timeout_ms bigint) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  s constant text := '{{schema}}';
  held integer;
  stored jsonb;
  found_step boolean;
  wake timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('arbiter:event:{{schema}}:' || ev, 0));
  EXECUTE format('SELECT 1 FROM %I.%I j WHERE j.id = $1 AND j.attempts = $2'
    ' AND num_nulls(j.leased_until) = 0 FOR NO KEY UPDATE', s, q) INTO held USING jid, att;
  IF held IS NULL THEN
    RETURN '{"state":"fenced"}'::jsonb;
  END IF;
  SELECT st.result, true INTO stored, found_step FROM "{{schema}}"._steps st
   WHERE st.queue = q AND st.job_id = jid AND st.name = step_name;
  IF found_step THEN
    RETURN jsonb_build_object('state', 'released', 'result', stored);
  END IF;
  SELECT e.payload, true INTO stored, found_step FROM "{{schema}}"._events e WHERE e.name = ev;
  IF found_step THEN
    INSERT INTO "{{schema}}"._steps (queue, job_id, name, kind, result, attempt)
    VALUES (q, jid, step_name, 'event', stored, att);
    UPDATE "{{schema}}"._events SET released = released + 1 WHERE name = ev;
    DELETE FROM "{{schema}}"._waits w WHERE w.queue = q AND w.job_id = jid;
    RETURN jsonb_build_object('state', 'released', 'result', stored);
  END IF;
  -- The deadline is set by the first park of this step and kept by every later one.
  SELECT w.until INTO wake FROM "{{schema}}"._waits w
   WHERE w.queue = q AND w.job_id = jid AND w.step = step_name;
  IF NOT FOUND THEN
    wake := CASE WHEN timeout_ms IS NULL THEN NULL ELSE now() + timeout_ms * interval '1 millisecond' END;
  END IF;
  IF wake IS NOT NULL AND wake <= now() THEN
    INSERT INTO "{{schema}}"._steps (queue, job_id, name, kind, result, attempt)
    VALUES (q, jid, step_name, 'timeout', NULL, att);
    DELETE FROM "{{schema}}"._waits w WHERE w.queue = q AND w.job_id = jid;
    RETURN '{"state":"timeout"}'::jsonb;
  END IF;
  INSERT INTO "{{schema}}"._waits AS w (queue, job_id, step, kind, event, until)
  VALUES (q, jid, step_name, 'event', ev, wake)
  ON CONFLICT (queue, job_id) DO UPDATE SET step = EXCLUDED.step, kind = EXCLUDED.kind,
    event = EXCLUDED.event, until = EXCLUDED.until, created_at = now();
  EXECUTE format('UPDATE %I.%I j SET leased_until = NULL, worker_id = NULL, suspended = ($3::timestamptz IS NULL),'
    ' run_at = coalesce($3::timestamptz, now()), max_attempts = j.max_attempts + 1, updated_at = now()'
    ' WHERE j.id = $1 AND j.attempts = $2', s, q) USING jid, att, wake;
  RETURN jsonb_build_object('state', 'parked', 'until', wake, 'in_ms',
    CASE WHEN wake IS NOT NULL THEN greatest(0, (extract(epoch FROM wake - now()) * 1000)::bigint) END);
END
$fn$;

-- Sleeps a held job: the first call for `step_name` records its wake time (now + ms, or `at`); a call
-- once it has passed returns {"state":"done"}; one before parks the job (no lease, attempt refunded, due
-- at the wake time) and returns {"state":"parked","until":…}; {"state":"fenced"} when not held.
CREATE FUNCTION "{{schema}}"._wait_sleep(q text, jid bigint, att integer, step_name text, ms bigint,
                                         at timestamptz) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  s constant text := '{{schema}}';
  held integer;
  wake timestamptz;
BEGIN
  EXECUTE format('SELECT 1 FROM %I.%I j WHERE j.id = $1 AND j.attempts = $2'
    ' AND num_nulls(j.leased_until) = 0 FOR NO KEY UPDATE', s, q) INTO held USING jid, att;
  IF held IS NULL THEN
    RETURN '{"state":"fenced"}'::jsonb;
  END IF;
  SELECT (st.result #>> '{}')::timestamptz INTO wake FROM "{{schema}}"._steps st
   WHERE st.queue = q AND st.job_id = jid AND st.name = step_name;
  IF NOT FOUND THEN
    wake := coalesce(at, now() + coalesce(ms, 0) * interval '1 millisecond');
    INSERT INTO "{{schema}}"._steps (queue, job_id, name, kind, result, attempt)
    VALUES (q, jid, step_name, 'sleep', to_jsonb(wake), att);
  END IF;
  IF wake <= now() THEN
    DELETE FROM "{{schema}}"._waits w WHERE w.queue = q AND w.job_id = jid AND w.step = step_name;
    RETURN '{"state":"done"}'::jsonb;
  END IF;
  INSERT INTO "{{schema}}"._waits AS w (queue, job_id, step, kind, event, until)
  VALUES (q, jid, step_name, 'sleep', NULL, wake)
  ON CONFLICT (queue, job_id) DO UPDATE SET step = EXCLUDED.step, kind = EXCLUDED.kind,
    event = NULL, until = EXCLUDED.until, created_at = now();
  EXECUTE format('UPDATE %I.%I j SET leased_until = NULL, worker_id = NULL, run_at = $3,'
    ' max_attempts = j.max_attempts + 1, updated_at = now() WHERE j.id = $1 AND j.attempts = $2', s, q)
    USING jid, att, wake;
  RETURN jsonb_build_object('state', 'parked', 'until', wake,
    'in_ms', greatest(0, (extract(epoch FROM wake - now()) * 1000)::bigint));
END
$fn$;

-- Emits an event: stores it (latched by name) and releases every job parked on it, each exactly once:
-- its wait row is deleted, the payload recorded as the step it waits on, and the job made due now (a
-- job running at that moment is left alone: its own park finds the step). Returns how many were released.
CREATE FUNCTION "{{schema}}"._emit(ev text, p jsonb) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  s constant text := '{{schema}}';
  w record;
  n integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('arbiter:event:{{schema}}:' || ev, 0));
  INSERT INTO "{{schema}}"._events AS e (name, payload) VALUES (ev, p)
  ON CONFLICT (name) DO UPDATE SET payload = EXCLUDED.payload, emitted_at = now(), emits = e.emits + 1;
  -- Jobs in a fixed order (queue, id), like every multi-job write, so concurrent emits cannot deadlock.
  FOR w IN WITH d AS (DELETE FROM "{{schema}}"._waits x WHERE x.event = ev RETURNING x.queue, x.job_id, x.step)
           SELECT d.queue, d.job_id, d.step FROM d ORDER BY d.queue, d.job_id
  LOOP
    INSERT INTO "{{schema}}"._steps (queue, job_id, name, kind, result, attempt)
    VALUES (w.queue, w.job_id, w.step, 'event', p, 0)
    ON CONFLICT (queue, job_id, name) DO NOTHING;
    IF to_regclass(format('%I.%I', s, w.queue)) IS NOT NULL THEN
      EXECUTE format('UPDATE %I.%I j SET suspended = false, run_at = now(), updated_at = now()'
        ' WHERE j.id = $1 AND j.leased_until IS NULL', s, w.queue) USING w.job_id;
    END IF;
    n := n + 1;
  END LOOP;
  IF n > 0 THEN
    UPDATE "{{schema}}"._events SET released = released + n WHERE name = ev;
  END IF;
  RETURN n;
END
$fn$;
