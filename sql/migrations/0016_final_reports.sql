-- Arbiter schema, version 16: the last reports that plain acks carry, a row per ack statement and run of
-- job ids instead of a row per job; and a dropped queue's reports, failed attempts and throughput history
-- go with it. Schema-wide objects only: no per-queue step.

-- The last report of each job a plain ack deleted, when the handler left one unwritten (a job that reports
-- and returns): written by the ack's own statement, one row per run of 256 job ids (`bucket`: id >> 8)
-- among the jobs it acked, `reports` a JSON object of job id → {"a": attempt, "p": progress, "m": metadata
-- patch, "l": log lines}. A read of a job's report merges its entry over its `_job_progress` row (the
-- reports it wrote while running), as an upsert of that row would have, so a short job's report costs its
-- ack a few dozen bytes instead of a row, a primary-key entry and a speculative insert of its own.
-- `json`, not `jsonb`: written as the worker sent it, never parsed on the way in. Pruned with the job
-- reports (by age, through the BRIN on written_at).
CREATE TABLE "{{schema}}"._job_final_reports (
  queue text NOT NULL,
  bucket bigint NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(),
  reports json NOT NULL
);
CREATE INDEX _job_final_reports_bucket_idx ON "{{schema}}"._job_final_reports (queue, bucket);
CREATE INDEX _job_final_reports_written_idx ON "{{schema}}"._job_final_reports USING brin (written_at);

-- _drop_queue deletes what the schema-wide tables hold of the queue: a queue created again under the
-- same name starts its job ids over, and must not find the reports and failed attempts of the old jobs,
-- nor their throughput history (pruned per queue by its retention from this version).
ALTER FUNCTION "{{schema}}"._drop_queue(text) RENAME TO _drop_queue_v10;

CREATE FUNCTION "{{schema}}"._drop_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $drop$
DECLARE
  dropped boolean;
BEGIN
  dropped := "{{schema}}"._drop_queue_v10(q);
  IF dropped THEN
    DELETE FROM "{{schema}}"._job_progress WHERE queue = q;
    DELETE FROM "{{schema}}"._job_final_reports WHERE queue = q;
    DELETE FROM "{{schema}}"._job_attempts WHERE queue = q;
    DELETE FROM "{{schema}}"._queue_stats WHERE queue = q;
  END IF;
  RETURN dropped;
END
$drop$;

-- What queues dropped before this version left behind.
DELETE FROM "{{schema}}"._job_progress p WHERE NOT EXISTS (SELECT 1 FROM "{{schema}}"._queues q WHERE q.name = p.queue);
DELETE FROM "{{schema}}"._job_attempts a WHERE NOT EXISTS (SELECT 1 FROM "{{schema}}"._queues q WHERE q.name = a.queue);
DELETE FROM "{{schema}}"._queue_stats s WHERE NOT EXISTS (SELECT 1 FROM "{{schema}}"._queues q WHERE q.name = s.queue);
