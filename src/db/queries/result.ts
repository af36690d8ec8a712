import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';

// Child results of job trees: stored per child for its parent, read back with the dead children's errors
// and the parent's snapshot.

/** Stores (or replaces) one child's result for its parent. `result` is JSON text. */
export async function resultInsert(
  db: Executor,
  t: QueueTables,
  parentId: string,
  childId: string,
  result: string,
): Promise<number> {
  const res = await db.query(
    `INSERT INTO ${t.results} (parent_id, child_id, result) VALUES ($1::bigint, $2::bigint, $3::jsonb)
     ON CONFLICT (parent_id, child_id) DO UPDATE SET result = EXCLUDED.result, created_at = now()`,
    [parentId, childId, result],
  );
  return res.rowCount;
}

export async function resultsByParent(
  db: Executor,
  t: QueueTables,
  parentId: string,
): Promise<{ child_id: string; result: unknown }[]> {
  const { rows } = await db.query<{ child_id: string; result: unknown }>(
    `SELECT r.child_id, r.result FROM ${t.results} r WHERE r.parent_id = $1::bigint ORDER BY r.child_id`,
    [parentId],
  );
  return rows;
}

/** Errors of a parent's children in the dead-letter table, keyed by the id the child had in the queue. */
export async function resultDeadChildErrors(
  db: Executor,
  t: QueueTables,
  parentId: string,
): Promise<{ job_id: string; error: string }[]> {
  const { rows } = await db.query<{ job_id: string; error: string }>(
    `SELECT d.job_id, coalesce(d.last_error, '') AS error FROM ${t.dlq} d
     WHERE d.parent_id = $1::bigint ORDER BY d.job_id, d.id`,
    [parentId],
  );
  return rows;
}

/** Overwrites a job's parent_state snapshot. `state` is JSON text (or null to clear it). */
export async function resultPersistParentState(
  db: Executor,
  t: QueueTables,
  jobId: string,
  state: string | null,
): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET parent_state = $2::jsonb, updated_at = now() WHERE j.id = $1::bigint`,
    [jobId, state],
  );
  return res.rowCount;
}

/** The raw parent_state of a live job; undefined when the job does not exist. */
export async function resultParentState(db: Executor, t: QueueTables, jobId: string): Promise<unknown> {
  const { rows } = await db.query<{ parent_state: unknown }>(
    `SELECT j.parent_state FROM ${t.jobs} j WHERE j.id = $1::bigint`,
    [jobId],
  );
  return rows.length === 0 ? undefined : rows[0]!.parent_state;
}

export interface ChildOutcomesRow {
  /** child id → result */
  results: Record<string, unknown>;
  /** child job id → last error */
  dlq_errors: Record<string, string>;
  snapshot: unknown;
  /** dead-letter id → last error */
  dlq_failures: Record<string, string>;
}

/**
 * Everything a rollup finalizer needs, read in one statement (one snapshot): its children's results, the
 * errors of its children in the dead-letter table (by child job id, and by dead-letter id so they can be
 * retried or deleted), and its own parent_state snapshot.
 */
export async function resultReadChildOutcomes(
  db: Executor,
  t: QueueTables,
  parentId: string,
): Promise<ChildOutcomesRow> {
  const { rows } = await db.query<ChildOutcomesRow>(
    `SELECT
       (SELECT coalesce(jsonb_object_agg(r.child_id::text, r.result), '{}'::jsonb)
          FROM ${t.results} r WHERE r.parent_id = $1::bigint) AS results,
       (SELECT coalesce(jsonb_object_agg(d.job_id::text, coalesce(d.last_error, '') ORDER BY d.id), '{}'::jsonb)
          FROM ${t.dlq} d WHERE d.parent_id = $1::bigint) AS dlq_errors,
       (SELECT j.parent_state FROM ${t.jobs} j WHERE j.id = $1::bigint) AS snapshot,
       (SELECT coalesce(jsonb_object_agg(d.id::text, coalesce(d.last_error, '')), '{}'::jsonb)
          FROM ${t.dlq} d WHERE d.parent_id = $1::bigint) AS dlq_failures`,
    [parentId],
    `${t.statementPrefix}result:outcomes`,
  );
  return rows[0]!;
}
