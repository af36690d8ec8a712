-- Arbiter schema, version 11: per-queue history of throughput and wait time, and what each worker runs.
-- Schema-wide objects only (no per-queue tables), so thousands of queues cost one table.

-- One row per queue and minute in which a worker finished jobs of it: jobs completed (success, kept or
-- not), failed attempts (retried or dead-lettered), dead letters among them, and the wait of the attempts
-- that finished (from due to claimed) as a histogram: wait_hist[i] counts waits up to the i-th bound of
-- the bounds in src/db/queries/queue-stats.ts (the last slot: longer). Workers add to these rows in one
-- statement per worker every few seconds (never a write per job); the maintenance leader deletes rows
-- past the retention, oldest first, through the minute index.
CREATE TABLE "{{schema}}"._queue_stats (
  queue text NOT NULL,
  minute timestamptz NOT NULL,
  completed bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  dead bigint NOT NULL DEFAULT 0,
  wait_hist bigint[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (queue, minute)
);
CREATE INDEX _queue_stats_minute_idx ON "{{schema}}"._queue_stats (minute);

-- What a worker runs now, written by its registry heartbeat (no statement of its own): its concurrency,
-- per queue its limits and how many jobs run or wait claimed, and a bounded list of the running jobs.
ALTER TABLE "{{schema}}"._workers ADD COLUMN info jsonb;
