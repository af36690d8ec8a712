-- Arbiter schema, version 10: which queues may have claimable work, in one schema-wide summary, so an
-- idle worker polls one statement for all its queues instead of one claim per queue.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- _queue_due holds, per queue, a lower bound of the next time one of its jobs may become claimable:
-- a job due now makes it <= now(); a delayed job, a retry's backoff or a lease's expiry makes it that
-- time; 'infinity' means nothing is scheduled. Workers poll it (_queue_poll) and claim only from queues
-- whose bound has come, setting a timer for those due before their next poll.
--
-- Keeping it is split so that the hot paths never write it while a queue is busy:
--   * Writers that can make a job claimable sooner than the bound (an insert, an update that lowers
--     run_at or resumes a job, a queue resumed) call _queue_mark. It only reads the bound; when the bound
--     is later than the job, it appends a row to _queue_wakes (never an update of a shared row, so two
--     producers never wait for each other, whatever their transactions do afterwards). On a busy queue
--     (bound already in the past) an insert costs one primary-key probe.
--   * Raising the bound happens only in _queue_settle, called by workers (inside their poll) for queues
--     whose last claim came back short: it recomputes the bound from the queue's claim indexes and
--     clears the queue's wakes.
--   * The two are ordered by one advisory lock per queue: every marker holds it in shared mode until its
--     transaction ends, and a settle takes it exclusively without waiting (a queue with a marker in
--     progress is simply not settled this time, and stays due). So a settle's fresh snapshot sees every
--     job whose marker has run, and a marker that runs after a settle reads the raised bound.
-- Whatever no trigger announces (a grouped job's ack freeing its group for another worker) is found by
-- the acking worker itself at once, and by every worker's round-robin re-settling of its queues.

CREATE TABLE "{{schema}}"._queue_due (
  queue text PRIMARY KEY,
  due_at timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE INDEX _queue_due_at_idx ON "{{schema}}"._queue_due (due_at);

CREATE TABLE "{{schema}}"._queue_wakes (
  queue text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX _queue_wakes_idx ON "{{schema}}"._queue_wakes (queue, at);
CREATE INDEX _queue_wakes_at_idx ON "{{schema}}"._queue_wakes (at);

-- Existing queues start due: their first poll claims once, and the claim's settle sets the bound.
INSERT INTO "{{schema}}"._queue_due (queue) SELECT name FROM "{{schema}}"._queues ON CONFLICT DO NOTHING;

-- A job of queue q may be claimable from `at` on. See the header for why this never updates a shared row.
CREATE FUNCTION "{{schema}}"._queue_mark(q text, due timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtextextended('arbiter:due:{{schema}}.' || q, 0));
  -- Read committed: each statement below sees every settle that committed before the lock was ours.
  -- Under a transaction snapshot a settle may be invisible, so such a transaction always leaves a wake.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    INSERT INTO "{{schema}}"._queue_wakes (queue, at) VALUES (q, due);
  ELSIF EXISTS (SELECT 1 FROM "{{schema}}"._queue_due d WHERE d.queue = q AND d.due_at > due)
        AND NOT EXISTS (SELECT 1 FROM "{{schema}}"._queue_wakes w WHERE w.queue = q AND w.at <= due) THEN
    INSERT INTO "{{schema}}"._queue_wakes (queue, at) VALUES (q, due);
  END IF;
END
$fn$;

-- Recomputes queue q's bound from its claim indexes (the same probes as the claim's next-due report:
-- per priority level, the first ungrouped run_at and the first group ready_at) and clears its wakes.
-- Skips (returns false) when a marker of the queue is still in progress. A paused queue's bound is
-- 'infinity': resuming it marks it (trigger below).
CREATE FUNCTION "{{schema}}"._queue_settle(q text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  s constant text := '{{schema}}';
  nxt timestamptz;
  paused boolean;
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  SELECT r.paused INTO paused FROM "{{schema}}"._queues r WHERE r.name = q;
  IF NOT FOUND OR to_regclass(format('%I.%I', s, q)) IS NULL THEN
    DELETE FROM "{{schema}}"._queue_wakes WHERE queue = q;
    DELETE FROM "{{schema}}"._queue_due WHERE queue = q;
    RETURN true;
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtextextended('arbiter:due:{{schema}}.' || q, 0)) THEN
    RETURN false;
  END IF;
  DELETE FROM "{{schema}}"._queue_wakes WHERE queue = q;
  IF NOT paused THEN
    EXECUTE format($q$
      WITH RECURSIVE
      lv(p, r) AS (
        (SELECT x.priority, x.run_at FROM %1$I.%2$I x WHERE x.group_key IS NULL AND NOT x.suspended
         ORDER BY x.priority, x.run_at LIMIT 1)
        UNION ALL
        SELECT n.priority, n.run_at FROM lv CROSS JOIN LATERAL (
          SELECT x.priority, x.run_at FROM %1$I.%2$I x
          WHERE x.group_key IS NULL AND NOT x.suspended AND x.priority > lv.p
          ORDER BY x.priority, x.run_at LIMIT 1) n
      ),
      glv(p, r) AS (
        (SELECT g.min_priority, g.ready_at FROM %1$I.%3$I g WHERE g.ready_at IS NOT NULL
         ORDER BY g.min_priority, g.ready_at LIMIT 1)
        UNION ALL
        SELECT n.min_priority, n.ready_at FROM glv CROSS JOIN LATERAL (
          SELECT g.min_priority, g.ready_at FROM %1$I.%3$I g
          WHERE g.ready_at IS NOT NULL AND g.min_priority > glv.p
          ORDER BY g.min_priority, g.ready_at LIMIT 1) n
      )
      SELECT least((SELECT min(r) FROM lv), (SELECT min(r) FROM glv))$q$, s, q, q || '_groups') INTO nxt;
  END IF;
  UPDATE "{{schema}}"._queue_due d SET due_at = coalesce(nxt, 'infinity')
  WHERE d.queue = q AND d.due_at IS DISTINCT FROM coalesce(nxt, 'infinity');
  RETURN true;
END
$fn$;

-- A worker's poll: settles `settle` (the queues whose last claim came back short, and a few more in
-- turn), then returns which of `queues` are due within `horizon_ms`, in how many ms (<= 0: now), and
-- whether a wake is what made them due.
CREATE FUNCTION "{{schema}}"._queue_poll(queues text[], settle text[], horizon_ms double precision)
RETURNS TABLE (queue text, due_ms double precision, woken boolean)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  q text;
BEGIN
  FOREACH q IN ARRAY coalesce(settle, '{}') LOOP
    PERFORM "{{schema}}"._queue_settle(q);
  END LOOP;
  RETURN QUERY
    -- '-infinity' (never settled) is due now: epoch arithmetic, since timestamps cannot subtract infinity.
    SELECT u.queue, ((extract(epoch FROM min(u.at)) - extract(epoch FROM now())) * 1000)::double precision,
           bool_or(u.woken)
    FROM (
      SELECT d.queue, d.due_at AS at, false AS woken FROM "{{schema}}"._queue_due d
      WHERE d.due_at <= now() + horizon_ms * interval '1 millisecond' AND d.queue = ANY (queues)
      UNION ALL
      SELECT w.queue, w.at, true FROM "{{schema}}"._queue_wakes w
      WHERE w.at <= now() + horizon_ms * interval '1 millisecond' AND w.queue = ANY (queues)
    ) u
    GROUP BY u.queue;
END
$fn$;

-- Inserts (once per statement) mark their queue as of the transaction's start, which is no later than
-- any job they insert can be claimed; the wake-up NOTIFY is unchanged.
CREATE OR REPLACE FUNCTION "{{schema}}"._notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('arbiter.notify', true) IS DISTINCT FROM 'off' THEN
    PERFORM pg_notify(left('arbiter:{{schema}}', 63), TG_TABLE_NAME);
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM "{{schema}}"._queue_mark(TG_TABLE_NAME, now());
  END IF;
  RETURN NULL;
END
$fn$;

-- Updates that make a job claimable sooner (a retry's backoff shorter than the lease it ends, a snooze,
-- a release, a promote, a resume) mark the queue with the job's new time. Claims and lease extensions
-- only move run_at later: the trigger's condition filters them out before any function is called.
CREATE FUNCTION "{{schema}}"._due_jobs() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM "{{schema}}"._queue_mark(TG_TABLE_NAME, NEW.run_at);
  RETURN NULL;
END
$fn$;

CREATE FUNCTION "{{schema}}"._create_due_trigger(q text) RETURNS void
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', q || '_due_upd', s, q);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I.%I FOR EACH ROW'
    ' WHEN (NOT NEW.suspended AND (OLD.suspended OR NEW.run_at < OLD.run_at))'
    ' EXECUTE FUNCTION %I._due_jobs()', q || '_due_upd', s, q, s);
  INSERT INTO "{{schema}}"._queue_due (queue) VALUES (q) ON CONFLICT DO NOTHING;
END
$create$;

-- A queue resumed may be due at once.
CREATE FUNCTION "{{schema}}"._queues_resumed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM "{{schema}}"._queue_mark(NEW.name, now());
  RETURN NULL;
END
$fn$;
CREATE TRIGGER _queues_resumed AFTER UPDATE OF paused ON "{{schema}}"._queues FOR EACH ROW
  WHEN (OLD.paused AND NOT NEW.paused) EXECUTE FUNCTION "{{schema}}"._queues_resumed();

-- _create_queue keeps its version-5 body under another name and gains the due trigger and summary row.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_v5;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_v5(q);
  IF created THEN
    PERFORM "{{schema}}"._create_due_trigger(q);
  END IF;
  RETURN created;
END
$create$;

-- _drop_queue removes the queue's summary row and wakes too, and its tree functions.
ALTER FUNCTION "{{schema}}"._drop_queue(text) RENAME TO _drop_queue_v5;

CREATE FUNCTION "{{schema}}"._drop_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $drop$
DECLARE
  dropped boolean;
BEGIN
  dropped := "{{schema}}"._drop_queue_v5(q);
  IF dropped THEN
    -- The tree functions (migration 0003) were left behind by earlier versions.
    EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(), %I.%I(), %I.%I()', '{{schema}}', q || '_tree_parent',
                   '{{schema}}', q || '_results_parent', '{{schema}}', q || '_tree_del');
    DELETE FROM "{{schema}}"._queue_due WHERE queue = q;
    DELETE FROM "{{schema}}"._queue_wakes WHERE queue = q;
  END IF;
  RETURN dropped;
END
$drop$;

-- Existing queues get their due trigger: `migrate` calls this for every queue, 50 per transaction, and
-- records each in _upgraded_0010, so an interrupted migration resumes where it stopped (a loop here would
-- lock every queue table in one transaction). Both are dropped once every queue is done.
CREATE FUNCTION "{{schema}}"._upgrade_queue_0010(q text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  IF to_regclass(format('%I.%I', '{{schema}}', q)) IS NOT NULL THEN
    PERFORM "{{schema}}"._create_due_trigger(q);
  END IF;
END
$fn$;
CREATE TABLE "{{schema}}"._upgraded_0010 (queue text PRIMARY KEY);
