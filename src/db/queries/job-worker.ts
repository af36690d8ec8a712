import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import type { QueueTables } from '../sql.js';
import type { Fence } from './job-complete.js';

// Same fence as the core writes: the caller's attempt, still leased.
const FENCE = `j.id = $1 AND j.attempts = $2 AND j.leased_until IS NOT NULL`;

/**
 * Releases a held job to run again after `delayMs` without spending an attempt. Attempts never go down
 * (they are the fencing token), so the attempt budget grows by one instead. With delay 0 the job is
 * claimable at once; with a delay, a grouped job keeps its group blocked until it runs (FIFO).
 */
export async function jobSnooze(
  db: Executor,
  t: QueueTables,
  f: Fence,
  delayMs: number,
  note: string | null,
): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET leased_until = NULL, run_at = now() + $3::bigint * interval '1 millisecond',
       max_attempts = j.max_attempts + 1, worker_id = NULL, last_error = coalesce($4, j.last_error), updated_at = now()
     WHERE ${FENCE}`,
    [f.id, f.attempts, delayMs, note],
    `${t.statementPrefix}worker:snooze`,
  );
  return res.rowCount;
}

/** Many snoozes with delay 0 (graceful shutdown): jobs visible again at once, attempts refunded. */
export async function jobReleaseMany(db: Executor, t: QueueTables, fences: readonly Fence[], note: string): Promise<number> {
  if (fences.length === 0) return 0;
  const res = await db.query(
    `UPDATE ${t.jobs} j SET leased_until = NULL, run_at = now(), max_attempts = j.max_attempts + 1,
       worker_id = NULL, last_error = $3, updated_at = now()
     FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)
     WHERE j.id = u.id AND j.attempts = u.attempts AND j.leased_until IS NOT NULL`,
    [fences.map((x) => x.id), fences.map((x) => x.attempts), note],
  );
  return res.rowCount;
}

/**
 * Stale recovery, tier 1 (seed 001 recoverStaleJobs): jobs whose lease expired less than `maxAgeMs`
 * after they were claimed and that have attempts left go back to retry now, with the reason recorded.
 * Jobs on their final attempt are left to the exhausted-job reaper.
 */
export async function jobRecoverStale(db: Executor, t: QueueTables, maxAgeMs: number): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET leased_until = NULL, worker_id = NULL, updated_at = now(),
       last_error = 'lease expired (worker lost or too slow)'
     WHERE j.leased_until IS NOT NULL AND j.leased_until <= now() AND j.attempts < j.max_attempts
       AND j.claimed_at >= now() - $1::bigint * interval '1 millisecond'`,
    [maxAgeMs],
  );
  return res.rowCount;
}

/** Stale recovery, tier 2: jobs claimed longer than `maxAgeMs` ago and still leased (or expired). */
export async function jobAncientStale(db: Executor, t: QueueTables, maxAgeMs: number, limit: number): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobColumns('j')} FROM ${t.jobs} j
     WHERE j.leased_until IS NOT NULL AND j.claimed_at < now() - $1::bigint * interval '1 millisecond'
     ORDER BY j.id LIMIT $2`,
    [maxAgeMs, limit],
  );
  return rows;
}

const DLQ_INSERT = `(job_id, payload, group_key, priority, attempts, max_attempts, last_error, dedup_key,
  idempotency_key, parent_id, is_rollup, parent_state, meta, created_at)`;

/**
 * Fallback dead-lettering for standalone jobs (no parent, no children), fenced: used only when the
 * queue's dlq facet does not provide `move`. Returns 1, or 0 when fenced off or the job is part of a tree.
 */
export async function jobDeadLetterStandalone(db: Executor, t: QueueTables, f: Fence, error: string): Promise<number> {
  const res = await db.query(
    `WITH moved AS (
       DELETE FROM ${t.jobs} j WHERE ${FENCE} AND j.parent_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.*)
     INSERT INTO ${t.dlq} ${DLQ_INSERT}
     SELECT id, payload, group_key, priority, attempts, max_attempts, $3, dedup_key, idempotency_key, parent_id,
            is_rollup, parent_state, meta, created_at FROM moved`,
    [f.id, f.attempts, error],
  );
  return res.rowCount;
}

/** Fallback reaper for standalone jobs whose lease expired on their final attempt. */
export async function jobReapExhaustedStandalone(db: Executor, t: QueueTables, error: string): Promise<number> {
  const res = await db.query(
    `WITH moved AS (
       DELETE FROM ${t.jobs} j WHERE j.leased_until IS NOT NULL AND j.leased_until <= now()
         AND j.attempts >= j.max_attempts AND j.parent_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.*)
     INSERT INTO ${t.dlq} ${DLQ_INSERT}
     SELECT id, payload, group_key, priority, attempts, max_attempts,
            CASE WHEN last_error LIKE 'worker lost%' THEN last_error ELSE $1 || coalesce(': ' || last_error, '') END,
            dedup_key, idempotency_key, parent_id, is_rollup, parent_state, meta, created_at FROM moved`,
    [error],
  );
  return res.rowCount;
}

export interface ChildOutcomeRow {
  child_id: string;
  result: unknown;
  error: string | null;
  dead: boolean;
}

/**
 * Fallback read of a rollup parent's child outcomes (results table plus dead-lettered children), used
 * only when the queue's results facet does not provide them. Dead letters take precedence over results.
 */
export async function jobChildOutcomes(db: Executor, t: QueueTables, parentId: string): Promise<ChildOutcomeRow[]> {
  const { rows } = await db.query<ChildOutcomeRow>(
    `SELECT r.child_id::text AS child_id, r.result, NULL::text AS error, false AS dead FROM ${t.results} r
     WHERE r.parent_id = $1
     UNION ALL
     SELECT d.job_id::text, NULL::jsonb, coalesce(d.last_error, 'dead-lettered'), true FROM ${t.dlq} d
     WHERE d.parent_id = $1`,
    [parentId],
  );
  return rows;
}
