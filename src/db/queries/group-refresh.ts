import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';

/** Advisory-lock key that serializes refreshes of one queue's groups table. */
export function refreshGroupsLockKey(t: QueueTables): string {
  return `arbiter:refresh-groups:${t.schema}.${t.queue}`;
}

/**
 * Full recompute of `<queue>_groups` from the job table (seed 000 refreshGroups), correcting any drift the
 * triggers may have accumulated. Returns false (did nothing) when another refresh finished less than
 * `minIntervalMs` ago, or null when the queue is not registered.
 *
 * Concurrency: refreshes are serialized on an advisory lock. The groups table is then locked in SHARE ROW
 * EXCLUSIVE mode: it waits for transactions already writing group rows and holds off new ones (the group
 * triggers) until this commits, while claims may still lock rows. A concurrent job write therefore either
 * committed before the recompute reads the job table (and is counted), or applies its trigger delta on top
 * of the recomputed row afterwards. Locking only the existing group rows is not enough: a group created
 * after that lock can be held by an enqueue that waits on a row the refresh holds, and the refresh's upsert
 * then deadlocks with it.
 *
 * The recomputed columns mirror the triggers' definitions:
 * - in_flight_count: rows holding a lease (leased_until set, even if expired: the claim clears it);
 * - in_flight_until: the latest lease, or else the backoff end of the group's first attempted job when it
 *   is waiting for a retry (FIFO survives failures), or else NULL;
 * - ready_at: the earliest time a non-suspended job under its attempt cap may run, never before
 *   in_flight_until; NULL when the group has nothing that can ever be claimed without a trigger firing.
 */
export async function groupRefresh(
  tx: Executor,
  t: QueueTables,
  minIntervalMs: number,
): Promise<boolean | null> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [refreshGroupsLockKey(t)]);
  const reg = await tx.query<{ recent: boolean }>(
    `SELECT coalesce(q.groups_refreshed_at > now() - $2::bigint * interval '1 millisecond', false) AS recent
     FROM ${t.registry} q WHERE q.name = $1 FOR UPDATE`,
    [t.queue, minIntervalMs],
  );
  const row = reg.rows[0];
  if (!row) return null;
  if (minIntervalMs > 0 && row.recent) return false;
  await tx.query(`LOCK TABLE ${t.groups} IN SHARE ROW EXCLUSIVE MODE`);
  await tx.query(
    `WITH agg AS (
       SELECT j.group_key, count(*)::int AS job_count,
         count(*) FILTER (WHERE j.leased_until IS NOT NULL)::int AS in_flight_count,
         max(j.leased_until) AS last_lease
       FROM ${t.jobs} j WHERE j.group_key IS NOT NULL GROUP BY j.group_key
     ),
     head AS (
       SELECT DISTINCT ON (j.group_key) j.group_key, j.priority, j.id FROM ${t.jobs} j
       WHERE j.group_key IS NOT NULL ORDER BY j.group_key, j.priority, j.id
     ),
     first_attempted AS (
       SELECT DISTINCT ON (j.group_key) j.group_key, j.suspended, j.leased_until, j.run_at FROM ${t.jobs} j
       WHERE j.group_key IS NOT NULL AND j.attempts > 0 ORDER BY j.group_key, j.id
     ),
     calc AS (
       SELECT a.group_key, a.job_count, h.priority AS min_priority, h.id AS min_id, a.in_flight_count,
         CASE WHEN a.in_flight_count > 0 THEN a.last_lease
              WHEN NOT f.suspended AND f.leased_until IS NULL AND f.run_at > now() THEN f.run_at
         END AS in_flight_until
       FROM agg a JOIN head h USING (group_key) LEFT JOIN first_attempted f USING (group_key)
     ),
     fresh AS (
       SELECT c.*, (SELECT min(greatest(j.run_at, c.in_flight_until)) FROM ${t.jobs} j
                    WHERE j.group_key = c.group_key AND NOT j.suspended AND j.attempts < j.max_attempts) AS ready_at
       FROM calc c
     ),
     upserted AS (
       INSERT INTO ${t.groups} AS g (group_key, job_count, min_priority, min_id, in_flight_count, in_flight_until,
                                     ready_at)
       SELECT group_key, job_count, min_priority, min_id, in_flight_count, in_flight_until, ready_at FROM fresh
       ON CONFLICT (group_key) DO UPDATE SET job_count = EXCLUDED.job_count, min_priority = EXCLUDED.min_priority,
         min_id = EXCLUDED.min_id, in_flight_count = EXCLUDED.in_flight_count,
         in_flight_until = EXCLUDED.in_flight_until, ready_at = EXCLUDED.ready_at
       WHERE (g.job_count, g.min_priority, g.min_id, g.in_flight_count, g.in_flight_until, g.ready_at)
         IS DISTINCT FROM (EXCLUDED.job_count, EXCLUDED.min_priority, EXCLUDED.min_id, EXCLUDED.in_flight_count,
                           EXCLUDED.in_flight_until, EXCLUDED.ready_at)
     ),
     emptied AS (
       DELETE FROM ${t.groups} g WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.group_key = g.group_key)
     )
     -- Data-modifying CTEs always run to completion, whether or not the outer statement reads them.
     UPDATE ${t.registry} q SET groups_refreshed_at = now() WHERE q.name = $1`,
    [t.queue],
  );
  return true;
}
