-- Arbiter schema, version 15: a job awaited by ctx.run reports how it ended from inside the statement
-- that ends it. Before, its worker emitted the report just before writing its completion, so a report
-- could precede a completion write that was then fenced off (the job ran again, the first report
-- counted), and a job that ended without its worker (cancelled by an operator, dead-lettered by the
-- maintenance leader) reported nothing: its awaiting job waited for its timeout.
--
-- Now such a job is tracked (migration 0012: the key "arbiter" in its meta, a row in _tracked_jobs) with
-- `awaited` set on that row. The tracking trigger, which runs in the transaction that removes the job
-- (ack, keep, dead letter, cancel, reaper), emits its done event `$job:<queue>:<id>` (migration 0013:
-- latched, each waiter released once) with the outcome; a dependent cancelled by a failed dependency
-- (it stays parked in its queue) reports from the settling transaction. Schema-wide: no per-queue objects.

ALTER TABLE "{{schema}}"._tracked_jobs ADD COLUMN awaited boolean NOT NULL DEFAULT false;

-- Emits the done event of awaited job (q, id), which ended in state st: {"ok":true,"result":…} for a
-- success, {"ok":false,"state":"failed"|"cancelled","error":…} otherwise.
CREATE FUNCTION "{{schema}}"._await_report(q text, id bigint, st text, res jsonb, err text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM "{{schema}}"._emit('$job:' || q || ':' || id,
    CASE WHEN st = 'succeeded' THEN jsonb_build_object('ok', true, 'result', res)
         ELSE jsonb_build_object('ok', false, 'state', st, 'error', coalesce(err, st)) END);
END
$fn$;

-- Marks tracked job (q, id) awaited (by a ctx.run enqueueing it, in that enqueue's transaction). The
-- caller has made it tracked and locked its row. A job already settled (a dependent cancelled by its
-- dependencies) reports at once; the event is latched, so the awaiting job finds it when it parks.
CREATE FUNCTION "{{schema}}"._await_mark(q text, id bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  t "{{schema}}"._tracked_jobs%ROWTYPE;
BEGIN
  UPDATE "{{schema}}"._tracked_jobs x SET awaited = true WHERE x.queue = q AND x.job_id = id RETURNING * INTO t;
  IF FOUND AND t.state <> 'unfinished' THEN
    PERFORM "{{schema}}"._await_report(q, id, t.state, t.result, t.error);
  END IF;
END
$fn$;

-- As in migration 0012, and a dependent cancelled here reports if it is awaited.
CREATE OR REPLACE FUNCTION "{{schema}}"._track_settle(q text, id bigint, st text) RETURNS void
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
      IF d.awaited THEN
        PERFORM "{{schema}}"._await_report(e.queue, e.job_id, 'cancelled', NULL, format('dependency %s %s', label, st));
      END IF;
      PERFORM "{{schema}}"._track_settle(e.queue, e.job_id, 'cancelled');
    END IF;
  END LOOP;
END
$fn$;

-- As in migration 0012, and an awaited job reports its end in the same transaction.
CREATE OR REPLACE FUNCTION "{{schema}}"._track_finished() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  q text := TG_TABLE_NAME;
  st text;
  err text;
  cur text;
  aw boolean;
  res jsonb;
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
  WHERE t.queue = q AND t.job_id = OLD.id
  RETURNING t.awaited, t.result INTO aw, res;
  PERFORM pg_notify(left('arbiter.done:{{schema}}', 63), q || ':' || OLD.id || ':' || st);
  IF aw THEN
    PERFORM "{{schema}}"._await_report(q, OLD.id, st, res, err);
  END IF;
  PERFORM "{{schema}}"._track_settle(q, OLD.id, st);
  RETURN NULL;
END
$fn$;
