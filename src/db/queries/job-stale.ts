import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import type { QueueTables } from '../sql.js';

/**
 * Stale recovery, tier 1: jobs whose lease expired less than `maxAgeMs`
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
