-- Arbiter schema, version 2: worker registry, recurring jobs, coalesced wake-up notifications, processed-job
-- history.
-- The schema placeholder is replaced by the validated schema name before this file runs.

-- One row per running worker process. A worker silent past the dead-worker threshold is presumed dead:
-- its row is deleted and the jobs it held (job.worker_id) are released at once.
CREATE TABLE "{{schema}}"._workers (
  id text PRIMARY KEY,
  queues text[] NOT NULL,
  hostname text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_heartbeat timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX _workers_heartbeat_idx ON "{{schema}}"._workers (last_heartbeat);

-- One row per recurring schedule. last_tick is the last cron tick fired: a tick is fired by the one
-- worker whose UPDATE ... WHERE last_tick < tick succeeds, so any number of workers fire it once.
CREATE TABLE "{{schema}}"._cron (
  name text PRIMARY KEY,
  queue text NOT NULL,
  pattern text NOT NULL,
  tz text NOT NULL,
  last_tick timestamptz,
  last_job_id bigint,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Wake-up hint. NOTIFY never carries a payload beyond the queue (table) name, and is sent once per
-- statement (inserts) or folded by PostgreSQL (identical notifications in one transaction), so a batch
-- insert costs one notification. The channel is schema-qualified so two schemas never wake each other.
CREATE FUNCTION "{{schema}}"._notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify(left('arbiter:{{schema}}', 63), TG_TABLE_NAME);
  RETURN NULL;
END
$fn$;

-- Creates a queue's notify triggers when missing (idempotent; also the repair used by the worker's
-- health check). Inserts notify once per statement; updates notify only on transitions to ready
-- that are not claims: a parent woken or a job resumed, promoted, or released for an immediate retry.
CREATE FUNCTION "{{schema}}"._create_notify_triggers(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
  rel regclass;
  created boolean := false;
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  -- Same lock as _create_queue: concurrent repairs (several workers) create each trigger once.
  PERFORM pg_advisory_xact_lock(hashtextextended('arbiter:create-queue:' || s || '.' || q, 0));
  rel := to_regclass(format('%I.%I', s, q));
  IF rel IS NULL THEN
    RETURN false;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = q || '_notify_ins') THEN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %I._notify_jobs()',
      q || '_notify_ins', s, q, s);
    created := true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = q || '_notify_upd') THEN
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I.%I FOR EACH ROW'
      ' WHEN (NEW.leased_until IS NULL AND NOT NEW.suspended AND NEW.run_at <= now()'
      ' AND (OLD.suspended OR NEW.run_at < OLD.run_at OR OLD.leased_until IS NOT NULL))'
      ' EXECUTE FUNCTION %I._notify_jobs()', q || '_notify_upd', s, q, s);
    created := true;
  END IF;
  RETURN created;
END
$create$;

-- Processed-job history ("keep as processed", seed 003's finished_at): finished jobs a worker was told to
-- keep are moved here with their finish time, so the hot job table stays small. Idempotent.
CREATE FUNCTION "{{schema}}"._create_history_table(q text) RETURNS void
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  EXECUTE format($ddl$
    CREATE TABLE IF NOT EXISTS %1$I.%2$I (
      id bigint PRIMARY KEY,
      payload jsonb NOT NULL,
      group_key text,
      priority smallint NOT NULL,
      attempts integer NOT NULL,
      max_attempts integer NOT NULL,
      last_error text,
      parent_id bigint,
      is_rollup boolean NOT NULL,
      meta jsonb,
      result jsonb,
      worker_id text,
      created_at timestamptz NOT NULL,
      claimed_at timestamptz,
      finished_at timestamptz NOT NULL DEFAULT now()
    )$ddl$, s, q || '_history');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (finished_at DESC, id DESC)', q || '_hist_idx', s,
    q || '_history');
END
$create$;

-- _create_queue keeps its version-1 body under another name and gains the notify triggers and history.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_v1;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_v1(q);
  PERFORM "{{schema}}"._create_notify_triggers(q);
  PERFORM "{{schema}}"._create_history_table(q);
  RETURN created;
END
$create$;

-- _drop_queue drops the history table too.
ALTER FUNCTION "{{schema}}"._drop_queue(text) RENAME TO _drop_queue_v1;

CREATE FUNCTION "{{schema}}"._drop_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $drop$
DECLARE
  dropped boolean;
BEGIN
  dropped := "{{schema}}"._drop_queue_v1(q);
  IF dropped THEN
    EXECUTE format('DROP TABLE IF EXISTS %I.%I', '{{schema}}', q || '_history');
  END IF;
  RETURN dropped;
END
$drop$;

-- Upgrade queues created under version 1.
DO $upgrade$
DECLARE
  q text;
BEGIN
  FOR q IN SELECT name FROM "{{schema}}"._queues ORDER BY name LOOP
    PERFORM "{{schema}}"._create_notify_triggers(q);
    PERFORM "{{schema}}"._create_history_table(q);
  END LOOP;
END
$upgrade$;
