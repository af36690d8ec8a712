-- Arbiter schema, version 3: an index shaped for the dashboard's bounded counts.
-- "{{schema}}" is replaced by the validated schema name before this file runs.
--
-- (suspended, least(attempts, 1), run_at) splits the job table into the ranges the overview counts:
--   suspended                                 suspended jobs and parents waiting for their children
--   NOT suspended, attempts = 0, run_at <= now  ready, never tried
--   NOT suspended, attempts = 0, run_at >  now  scheduled
--   NOT suspended, attempts > 0, run_at <= now  ready again (released, or a lease that expired)
--   NOT suspended, attempts > 0, run_at >  now  retrying, and the jobs in flight (run_at = lease expiry)
-- (least(attempts, 1) rather than attempts > 0: the planner rewrites NOT (attempts > 0) as attempts <= 0,
-- which no longer matches a boolean index expression; an integer expression compared with = does.)
-- So "count at most N of state X" reads at most N index entries (plus the few in-flight rows it skips),
-- however many jobs the queue holds.

CREATE FUNCTION "{{schema}}"._create_state_index(q text) RETURNS void
LANGUAGE plpgsql AS $create$
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (suspended, least(attempts, 1), run_at)',
    q || '_state_idx', '{{schema}}', q);
END
$create$;

-- _create_queue keeps its version-2 body under another name and gains the state index.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_v2;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_v2(q);
  PERFORM "{{schema}}"._create_state_index(q);
  RETURN created;
END
$create$;

-- Upgrade queues created under versions 1 and 2.
DO $upgrade$
DECLARE
  q text;
BEGIN
  FOR q IN SELECT name FROM "{{schema}}"._queues ORDER BY name LOOP
    PERFORM "{{schema}}"._create_state_index(q);
  END LOOP;
END
$upgrade$;
