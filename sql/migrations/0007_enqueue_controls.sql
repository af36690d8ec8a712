-- Enqueue controls: uniqueness over a period, debounce and throttle keep one small row per key here
-- (schema-wide, keyed by queue), never a copy of the job. Backpressure needs no table (see
-- src/db/queries/enqueue-controls.ts). Plain enqueues never read or write these tables.
--
-- Columns, by kind:
--   unique    job_id holds the key while it is live (expires_at NULL); once it is gone, expires_at is
--             when the key frees again: its finish time (dead letter's failed_at, or when the enqueue or
--             the maintenance sweep first saw it gone) plus hold_ms, if it finished the way hold_on says.
--   debounce  job_id is the pending job, first_at the first enqueue it absorbed, absorbed how many
--             enqueues it took in after the one that created it; expires_at is when the row may go.
--   throttle  job_id is the last job let through, expires_at the end of its window, is_trailing whether
--             that job is a trailing one still waiting for the window to close.
CREATE TABLE "{{schema}}"._enqueue_keys (
  queue text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('unique', 'debounce', 'throttle')),
  key text NOT NULL,
  job_id bigint,
  expires_at timestamptz,
  hold_ms bigint,
  hold_on text CHECK (hold_on IN ('succeeded', 'dead', 'finished')),
  first_at timestamptz,
  absorbed integer NOT NULL DEFAULT 0,
  is_trailing boolean NOT NULL DEFAULT false,
  PRIMARY KEY (queue, kind, key)
);
-- The maintenance leader's two sweeps: rows past their expiry, and unique keys whose job may be gone.
CREATE INDEX _enqueue_keys_expiry_idx ON "{{schema}}"._enqueue_keys (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX _enqueue_keys_live_idx ON "{{schema}}"._enqueue_keys (queue, job_id) WHERE expires_at IS NULL;
-- A job's debounce row, for the job read (absorbed count).
CREATE INDEX _enqueue_keys_job_idx ON "{{schema}}"._enqueue_keys (queue, job_id) WHERE kind = 'debounce';

-- Counters of controlled enqueues per queue (debounced, throttled, unique-rejected, overflow-rejected,
-- overflow-dropped), spread over a few shards by key so concurrent producers of different keys rarely
-- share a row lock. Only enqueues that use a control write here.
CREATE TABLE "{{schema}}"._enqueue_stats (
  queue text NOT NULL,
  kind text NOT NULL,
  shard smallint NOT NULL,
  count bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, kind, shard)
);
