-- Arbiter schema, version 8: recurring schedules managed at runtime.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- `_cron` (one row per schedule, schema-wide) now holds a schedule's whole definition, so schedules can be
-- added, changed, paused and removed without a deploy, and every worker fires what the table says:
--   payload       the job payload; NULL for a code schedule whose payload is a function of the tick (only
--                 workers that have that schedule in code fire it)
--   overlap       'skip' (no new job while the previous tick's job is still queued or running) or 'allow'
--   missed        what to do with ticks missed while no worker ran: 'skip' (none), 'once' (the latest only),
--                 'catch-up' (up to catch_up_max of the latest, oldest first, one job each)
--   paused        a paused schedule fires nothing; resuming does not fire the ticks of the pause
--   source        'code' (registered by a worker's `cron` option) or 'runtime' (added through the API)
--   code_hash     the code definition last registered: a starting worker rewrites the row only when it differs
--   overridden    a code schedule changed at runtime: later deploys leave its definition alone
-- Existing rows are code schedules with the previous behaviour (overlap is per worker: kept 'skip').

ALTER TABLE "{{schema}}"._cron
  ADD COLUMN payload jsonb DEFAULT '{}'::jsonb,
  ADD COLUMN overlap text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
  ADD COLUMN missed text NOT NULL DEFAULT 'once' CHECK (missed IN ('skip', 'once', 'catch-up')),
  ADD COLUMN catch_up_max integer NOT NULL DEFAULT 1 CHECK (catch_up_max BETWEEN 1 AND 1000),
  ADD COLUMN paused boolean NOT NULL DEFAULT false,
  ADD COLUMN source text NOT NULL DEFAULT 'code' CHECK (source IN ('code', 'runtime')),
  ADD COLUMN code_hash text,
  ADD COLUMN overridden boolean NOT NULL DEFAULT false,
  ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- Existing code schedules' payloads are unknown here (they may be functions): only their workers fire them
-- until those workers start again and register the payload.
UPDATE "{{schema}}"._cron SET payload = NULL;
