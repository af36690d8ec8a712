import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import type { Fence } from './job-complete.js';
import { FENCE } from './fence.js';
import { fencedTargetsSql } from './job-complete.js';

// Same fence as the core writes: the caller's attempt, still leased.

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

export interface SnoozeItem extends Fence {
  delayMs: number;
  /** Recorded as last_error (null keeps the job's own). */
  note: string | null;
}

/**
 * Many snoozes in one statement (jobSnooze for each): released to run again after its delay, the attempt
 * refunded. Graceful shutdown gives prefetched and running jobs back this way with delay 0. Returns the
 * ids written.
 */
export async function jobSnoozeMany(
  db: Executor,
  t: QueueTables,
  items: readonly SnoozeItem[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[]) AS u(id, attempts, delay, note)),
     ${fencedTargetsSql(t, 'FOR NO KEY UPDATE')},
     done AS (
       UPDATE ${t.jobs} j SET leased_until = NULL, run_at = now() + u.delay * interval '1 millisecond',
         max_attempts = j.max_attempts + 1, worker_id = NULL, last_error = coalesce(u.note, j.last_error),
         updated_at = now()
       FROM u WHERE j.id = u.id AND j.id = ANY (ARRAY(SELECT id FROM target))
         AND (SELECT count(*) FROM group_locks) >= 0
       RETURNING j.id
     )
     SELECT id::text AS id FROM done`,
    [
      items.map((i) => i.id),
      items.map((i) => i.attempts),
      items.map((i) => i.delayMs),
      items.map((i) => i.note),
    ],
    `${t.statementPrefix}worker:snooze-many`,
  );
  return rows.map((r) => r.id);
}

/**
 * Stale recovery, tier 1 (seed 001 recoverStaleJobs): jobs whose lease expired less than `maxAgeMs`
 * after they were claimed and that have attempts left go back to retry now, with the reason recorded.
 * Jobs on their final attempt are left to the exhausted-job reaper.
 */
export async function jobRecoverStale(db: Executor, t: QueueTables, maxAgeMs: number): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET leased_until = NULL, worker_id = NULL, run_at = least(j.run_at, now()), updated_at = now(),
       last_error = 'lease expired (worker lost or too slow)'
     WHERE j.leased_until IS NOT NULL AND j.leased_until <= now() AND j.attempts < j.max_attempts
       AND j.claimed_at >= now() - $1::bigint * interval '1 millisecond'`,
    [maxAgeMs],
  );
  return res.rowCount;
}

/** Stale recovery, tier 2: jobs claimed longer than `maxAgeMs` ago and still leased (or expired). */
export async function jobAncientStale(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobColumns('j')} FROM ${t.jobs} j
     WHERE j.leased_until IS NOT NULL AND j.claimed_at < now() - $1::bigint * interval '1 millisecond'
     ORDER BY j.id LIMIT $2`,
    [maxAgeMs, limit],
  );
  return rows;
}

const HISTORY_COLUMNS = `(id, payload, group_key, priority, attempts, max_attempts, last_error, parent_id, is_rollup,
  meta, result, worker_id, created_at, claimed_at)`;

/** `<queue>_history`, quoted like the queue's other tables. */
export function historyTable(t: QueueTables): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(`${t.queue}_history`)}`;
}

/**
 * Keep as processed, for standalone jobs (no parent, no children), in one statement: moves each held job
 * to the history table with its finish time and result. Fenced like ackBulk; returns the ids moved.
 */
export async function jobKeepMany(
  db: Executor,
  t: QueueTables,
  items: readonly (Fence & { result: string | null })[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(id, attempts, result)),
     ${fencedTargetsSql(t, 'FOR UPDATE')},
     done AS (
       DELETE FROM ${t.jobs} j USING u
       WHERE j.id = u.id AND j.id = ANY (ARRAY(SELECT id FROM target)) AND (SELECT count(*) FROM group_locks) >= 0
         AND j.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.*, u.result)
     INSERT INTO ${historyTable(t)} ${HISTORY_COLUMNS}
     SELECT id, payload, group_key, priority, attempts, max_attempts, last_error, parent_id, is_rollup, meta,
            result::jsonb, worker_id, created_at, claimed_at FROM done
     RETURNING id::text AS id`,
    [items.map((i) => i.id), items.map((i) => i.attempts), items.map((i) => i.result)],
    `${t.statementPrefix}worker:keep-many`,
  );
  return rows.map((r) => r.id);
}

/**
 * Copies a held job that has no children left into the history table (fenced), for jobs in trees: the
 * caller acks the job in the same transaction, so the copy and the ack commit together. Returns 1 or 0.
 */
export async function jobCopyToHistory(
  tx: Executor,
  t: QueueTables,
  f: Fence,
  result: string | null,
): Promise<number> {
  const res = await tx.query(
    `INSERT INTO ${historyTable(t)} ${HISTORY_COLUMNS}
     SELECT j.id, j.payload, j.group_key, j.priority, j.attempts, j.max_attempts, j.last_error, j.parent_id,
            j.is_rollup, j.meta, $3::jsonb, j.worker_id, j.created_at, j.claimed_at
     FROM ${t.jobs} j WHERE ${FENCE} AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
     ON CONFLICT (id) DO NOTHING`,
    [f.id, f.attempts, result],
  );
  return res.rowCount;
}
