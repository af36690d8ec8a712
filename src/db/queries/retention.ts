import type { RetentionPatch } from '../../core/retention.js';
import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { historyTable } from './job-history.js';

// Retention: per-queue limits stored in the queue registry (`_queues.settings -> 'retention'`, only the
// keys set away from the default), and the small batched deletes the maintenance leader runs with them.

/** Every queue with its stored retention overrides (null when none), in name order. */
export async function retentionStored(
  db: Executor,
  schema: string,
): Promise<{ name: string; retention: unknown }[]> {
  const { rows } = await db.query<{ name: string; retention: unknown }>(
    `SELECT name, settings -> 'retention' AS retention FROM ${quoteIdent(schema)}._queues ORDER BY name`,
  );
  return rows;
}

/**
 * Applies a patch to a queue's stored overrides in one statement: keys set to a number or null are
 * stored, keys set to 'default' are removed. Returns the overrides now stored, or undefined when the queue
 * does not exist.
 */
export async function retentionUpdate(
  db: Executor,
  schema: string,
  name: string,
  patch: RetentionPatch,
): Promise<unknown> {
  const set: Record<string, number | null> = {};
  const unset: string[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === 'default') unset.push(key);
    else if (value !== undefined) set[key] = value;
  }
  const { rows } = await db.query<{ retention: unknown }>(
    `UPDATE ${quoteIdent(schema)}._queues
     SET settings = jsonb_set(settings, '{retention}',
       (coalesce(settings -> 'retention', '{}'::jsonb) - $2::text[]) || $3::jsonb)
     WHERE name = $1
     RETURNING settings -> 'retention' AS retention`,
    [name, unset, JSON.stringify(set)],
  );
  return rows.length === 0 ? undefined : rows[0]!.retention;
}

const ms = `$1::bigint * interval '1 millisecond'`;

/**
 * Deletes up to `limit` history rows of jobs that finished more than `maxAgeMs` ago (database time),
 * oldest first, through the (finished_at, id) index. Returns how many were deleted.
 */
export async function pruneHistoryByAge(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const h = historyTable(t);
  const res = await db.query(
    `DELETE FROM ${h} h WHERE h.id IN (
       SELECT x.id FROM ${h} x WHERE x.finished_at < now() - ${ms}
       ORDER BY x.finished_at, x.id LIMIT $2)`,
    [maxAgeMs, limit],
  );
  return res.rowCount;
}

/** The newest row a count limit removes: rows at or before it (in time, then id order) go. */
export interface CountCut {
  /** Microseconds since the Unix epoch, as text: a JavaScript Date would drop the microseconds. */
  atMicros: string;
  id: string;
}

/** The cut's time as SQL, from the bound microseconds: exact, whatever the session's settings. */
const cutTime = (param: string) => `('epoch'::timestamptz + ${param}::bigint * interval '1 microsecond')`;

/**
 * Where a count limit cuts a table: the (keep+1)-th newest row, found by walking the time index from the
 * newest end, or null when the table holds no more than `keep` rows. When the planner's row estimate
 * (`reltuples`, kept by autovacuum and ANALYZE) is well under `keep`, the walk is skipped: it would read
 * up to `keep` index entries to find nothing.
 */
async function countCut(
  db: Executor,
  table: string,
  timeColumn: 'finished_at' | 'failed_at',
  keep: number,
): Promise<CountCut | null> {
  const est = await db.query<{ n: number }>(
    `SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass`,
    [table],
  );
  const estimate = est.rows[0]?.n ?? -1;
  if (estimate >= 0 && estimate < keep * 0.8) return null;
  const { rows } = await db.query<CountCut>(
    `SELECT (extract(epoch FROM c.${timeColumn}) * 1000000)::bigint::text AS "atMicros", c.id::text AS id
     FROM ${table} c
     ORDER BY c.${timeColumn} DESC, c.id DESC OFFSET $1 LIMIT 1`,
    [keep],
  );
  return rows[0] ?? null;
}

/** Where `historyMaxCount` cuts the history, or null when it holds no more rows than that. */
export function historyCountCut(db: Executor, t: QueueTables, keep: number): Promise<CountCut | null> {
  return countCut(db, historyTable(t), 'finished_at', keep);
}

/** Where `deadLetterMaxCount` cuts the dead letters, or null when there are no more than that. */
export function deadLetterCountCut(db: Executor, t: QueueTables, keep: number): Promise<CountCut | null> {
  return countCut(db, t.dlq, 'failed_at', keep);
}

/** Deletes up to `limit` history rows at or before `cut`, oldest first. */
export async function pruneHistoryTo(
  db: Executor,
  t: QueueTables,
  cut: CountCut,
  limit: number,
): Promise<number> {
  const h = historyTable(t);
  const res = await db.query(
    `DELETE FROM ${h} h WHERE h.id IN (
       SELECT x.id FROM ${h} x WHERE (x.finished_at, x.id) <= (${cutTime('$1')}, $2::bigint)
       ORDER BY x.finished_at, x.id LIMIT $3)`,
    [cut.atMicros, cut.id, limit],
  );
  return res.rowCount;
}

/**
 * A dead letter may go only when no live job still needs it: a dead child whose parent is still in the
 * queue is part of that parent's outcome (its rollup reads the child's error from here), so it stays
 * until the parent has finished. Rows being retried or deleted by an operator right now are locked and
 * skipped: the operator's action wins.
 */
const deadLetterFree = (t: QueueTables) =>
  `(x.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM ${t.jobs} p WHERE p.id = x.parent_id))`;

/** Deletes up to `limit` dead letters that failed more than `maxAgeMs` ago, oldest first. */
export async function pruneDeadLettersByAge(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const res = await db.query(
    `WITH v AS (
       SELECT x.id FROM ${t.dlq} x WHERE x.failed_at < now() - ${ms} AND ${deadLetterFree(t)}
       ORDER BY x.failed_at, x.id LIMIT $2 FOR UPDATE OF x SKIP LOCKED)
     DELETE FROM ${t.dlq} d USING v WHERE d.id = v.id`,
    [maxAgeMs, limit],
  );
  return res.rowCount;
}

/** Deletes up to `limit` dead letters at or before `cut`, oldest first (those still needed are kept). */
export async function pruneDeadLettersTo(
  db: Executor,
  t: QueueTables,
  cut: CountCut,
  limit: number,
): Promise<number> {
  const res = await db.query(
    `WITH v AS (
       SELECT x.id FROM ${t.dlq} x
       WHERE (x.failed_at, x.id) <= (${cutTime('$1')}, $2::bigint) AND ${deadLetterFree(t)}
       ORDER BY x.failed_at, x.id LIMIT $3 FOR UPDATE OF x SKIP LOCKED)
     DELETE FROM ${t.dlq} d USING v WHERE d.id = v.id`,
    [cut.atMicros, cut.id, limit],
  );
  return res.rowCount;
}
