import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { fencedUpdateManySql, type Fence } from './job-complete.js';

// Releasing a held job without spending an attempt. Fenced like every write after a claim: the caller's
// attempt, still leased.

export interface SnoozeItem extends Fence {
  delayMs: number;
  /** Recorded as last_error (null keeps the job's own). */
  note: string | null;
}

/**
 * Releases held jobs to run again, each after its `delayMs`, without spending an attempt, in one statement.
 * Attempts never go down (they are the fencing token), so the attempt budget grows by one instead. With
 * delay 0 a job is claimable at once; with a delay, a grouped job keeps its group blocked until it runs.
 * Graceful shutdown gives prefetched and running jobs back this way with delay 0. Returns the ids written.
 */
export async function jobSnoozeMany(
  db: Executor,
  t: QueueTables,
  items: readonly SnoozeItem[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    fencedUpdateManySql(
      t,
      'note',
      `leased_until = NULL, run_at = now() + u.delay * interval '1 millisecond',
         max_attempts = j.max_attempts + 1, worker_id = NULL, last_error = coalesce(u.note, j.last_error),
         updated_at = now()`,
    ),
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
