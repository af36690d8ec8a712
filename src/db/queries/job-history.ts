import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { FENCE } from './fence.js';
import { fencedTargetsSql, type Fence } from './job-complete.js';

// Keeping processed jobs: a finished job moves to `<queue>_history` instead of being deleted. Fenced like
// every write after a claim.

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
