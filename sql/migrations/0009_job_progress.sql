-- Arbiter schema, version 9: what a running job reports (progress, metadata, log lines) and every failed
-- attempt's error. Schema-wide tables keyed by queue and job id: no per-queue objects, and plain jobs
-- never touch them (a job writes here only when its handler reports, or when an attempt fails).

-- One row per job that reported while running. Written by the worker at most once per second per job
-- (coalesced), each write fenced by the job's attempt and lease, so a stale attempt never writes. `attempt`
-- is the attempt that wrote last: a new attempt starts with no progress; its metadata patches merge into
-- the row's; log lines accumulate across attempts (each tagged with its attempt), the newest 200 kept.
-- Rows outlive their job (the job page still shows them once it finished) until retention prunes them.
-- The age index is a BRIN: rows are written in time order, and it costs the writes next to nothing.
CREATE TABLE "{{schema}}"._job_progress (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  attempt integer NOT NULL,
  progress jsonb,
  meta jsonb,
  logs jsonb NOT NULL DEFAULT '[]'::jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, job_id)
);
CREATE INDEX _job_progress_updated_idx ON "{{schema}}"._job_progress USING brin (updated_at);

-- One row per failed attempt (retried, or dead-lettered): its error, the worker that ran it, when it
-- started and how long it ran. Written in the completion path of failures only; successes write nothing.
CREATE TABLE "{{schema}}"._job_attempts (
  queue text NOT NULL,
  job_id bigint NOT NULL,
  attempt integer NOT NULL,
  error text NOT NULL,
  worker_id text,
  started_at timestamptz,
  duration_ms double precision,
  failed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, job_id, attempt)
);
CREATE INDEX _job_attempts_failed_idx ON "{{schema}}"._job_attempts (queue, failed_at);
