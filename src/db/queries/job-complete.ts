import type { Fence } from '../../core/fence.js';
import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { lockGroupsSql } from './group-lock.js';
import { treeLock, wakeParents } from './tree.js';
import { FENCE, fencedBy } from './fence.js';
import { finalReportsInsertSql, finalReportsParam } from './job-final-reports.js';
import type { ProgressWrite } from './job-progress.js';

export type { Fence };

// Every write after a claim carries FENCE: the row must still be at the caller's attempt and still
// leased. A worker whose lease was taken over (attempts moved on) or released changes nothing.

/** Deletes a standalone job (no parent, no children) in one statement. */
async function ackStandalone(db: Executor, t: QueueTables, f: Fence): Promise<boolean> {
  const res = await db.query(
    `DELETE FROM ${t.jobs} j WHERE ${FENCE} AND j.parent_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)`,
    [f.id, f.attempts],
    `${t.statementPrefix}ack:standalone`,
  );
  return res.rowCount > 0;
}

/**
 * Smart ack: deletes a standalone job; a job that still has children is suspended
 * instead (it runs again for its completion round once they finish); a child's ack stores its result
 * for the parent and wakes the parent when it was the last sibling. Sibling acks are serialized on the
 * parent's tree lock, so exactly one of them wakes the parent. Returns 1 on success, 0 when fenced off.
 */
export async function jobAck(
  db: Executor,
  t: QueueTables,
  f: Fence,
  result?: string,
  opts: { inTree?: boolean } = {},
): Promise<number> {
  // The one-statement path only helps standalone jobs; a job known to be in a tree skips the round trip.
  if (result === undefined && !opts.inTree && (await ackStandalone(db, t, f))) return 1;
  return db.transaction(async (tx) => {
    const head = await tx.query<{ parent_id: string | null }>(
      `SELECT j.parent_id FROM ${t.jobs} j WHERE ${FENCE}`,
      [f.id, f.attempts],
    );
    const row = head.rows[0];
    if (!row) return 0;
    // One round trip: treeLock sorts ids, and a parent's id is always below its children's.
    await treeLock(tx, t, row.parent_id ? [row.parent_id, f.id] : [f.id]);
    const locked = await tx.query<{ parent_id: string | null; has_children: boolean }>(
      `SELECT j.parent_id, EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id) AS has_children
       FROM ${t.jobs} j WHERE ${FENCE} FOR UPDATE`,
      [f.id, f.attempts],
    );
    const cur = locked.rows[0];
    if (!cur) return 0;
    if (result !== undefined && cur.parent_id) {
      await tx.query(
        `INSERT INTO ${t.results} (parent_id, child_id, result) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (parent_id, child_id) DO UPDATE SET result = EXCLUDED.result, created_at = now()`,
        [cur.parent_id, f.id, result],
      );
    }
    if (cur.has_children) {
      const res = await tx.query(
        // A successful round does not spend the failure budget: keep one attempt for the completion round.
        `UPDATE ${t.jobs} j SET suspended = true, leased_until = NULL, run_at = now(), worker_id = NULL,
           max_attempts = greatest(j.max_attempts, j.attempts + 1), updated_at = now() WHERE ${FENCE}`,
        [f.id, f.attempts],
      );
      return res.rowCount;
    }
    const res = await tx.query(`DELETE FROM ${t.jobs} j WHERE ${FENCE}`, [f.id, f.attempts]);
    if (res.rowCount > 0 && cur.parent_id) await wakeParents(tx, t, [cur.parent_id]);
    return res.rowCount;
  });
}

/**
 * Bulk ack for standalone jobs: one statement for all of them, one round trip.
 * Jobs that have a parent or children are left untouched (use jobAck for those).
 *
 * Every row is found through its primary key: a LATERAL ... LIMIT 1 probe per fence keeps each lookup a
 * nested loop (as a join, the planner could hash the whole table or walk every leased row).
 *
 * Ungrouped jobs (the common case) are deleted without a separate row lock: they touch no group row, so
 * there is no job-then-group lock order to keep, and the DELETE's own row lock suffices. That DELETE goes
 * by the ctid the probe found, so a row changed in the meantime (a lease extension, say) is skipped: its
 * latest version lives elsewhere. The locking path takes it instead, along with every grouped job: row
 * lock first (which rechecks the fence on the latest version), then the group rows in key order, then the
 * DELETE, like every multi-group write. The plain DELETE runs first (the locking probe reads its result),
 * so job rows are still locked before group rows.
 */
export async function jobAckBulk(
  db: Executor,
  t: QueueTables,
  fences: readonly Fence[],
  reports: readonly ProgressWrite[] = [],
): Promise<string[]> {
  if (fences.length === 0) return [];
  const standalone = `x.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = x.id)`;
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[]) AS u(id, attempts)),
     plain AS (
       DELETE FROM ${t.jobs} j WHERE j.ctid = ANY (ARRAY(
         SELECT p.ctid FROM u CROSS JOIN LATERAL (
           SELECT x.ctid FROM ${t.jobs} x
           WHERE ${fencedBy('x', 'u')} AND x.group_key IS NULL AND ${standalone}
           LIMIT 1
         ) p))
       RETURNING j.id
     ),
     target AS (
       SELECT g.id, g.group_key FROM u CROSS JOIN LATERAL (
         SELECT x.id, x.group_key FROM ${t.jobs} x
         WHERE ${fencedBy('x', 'u')} AND ${standalone}
         LIMIT 1
         FOR UPDATE
       ) g
       WHERE u.id NOT IN (SELECT id FROM plain)
     ),
     group_locks AS (${lockGroupsSql(t, 'target')}),
     grouped AS (
       DELETE FROM ${t.jobs} j WHERE j.id = ANY (ARRAY(SELECT id FROM target))
         AND (SELECT count(*) FROM group_locks) >= 0
       RETURNING j.id
     )
     ${reports.length === 0 ? 'SELECT id FROM plain UNION ALL SELECT id FROM grouped' : withReports(t)}`,
    reports.length === 0
      ? [fences.map((f) => f.id), fences.map((f) => f.attempts)]
      : [fences.map((f) => f.id), fences.map((f) => f.attempts), t.queue, finalReportsParam(reports)],
    `${t.statementPrefix}${reports.length === 0 ? 'ack:bulk' : 'ack:bulk-reports'}`,
  );
  return rows.map((r) => r.id);
}

/**
 * The end of jobAckBulk when some jobs carry their last report ($3: the queue, $4: finalReportsParam of
 * the reports): the reports go in shared rows written by the same statement, only for the jobs it deleted,
 * so the fence of the ack is the fence of the report (a stale attempt writes neither), and the report
 * costs no transaction, row or index entry of its own.
 */
function withReports(t: QueueTables): string {
  return `, acked AS (SELECT id FROM plain UNION ALL SELECT id FROM grouped),
     ${finalReportsInsertSql(t, '$3', '$4', '(SELECT count(*) FROM acked) = cardinality($1::bigint[])')}
     SELECT id FROM acked`;
}

/** Extends (or shortens) a held lease. Returns 1, or 0 when the caller no longer holds the job. */
export async function jobExtendLease(
  db: Executor,
  t: QueueTables,
  f: Fence,
  leaseMs: number,
): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET leased_until = now() + $3::bigint * interval '1 millisecond',
       run_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()
     WHERE ${FENCE}`,
    [f.id, f.attempts, leaseMs],
    `${t.statementPrefix}lease:one`,
  );
  return res.rowCount;
}

export interface LeaseRow {
  id: string;
  updated: boolean;
  current_attempts: number | null;
}

/** Batch lease extension with a status per job. */
export async function jobExtendLeases(
  db: Executor,
  t: QueueTables,
  fences: readonly Fence[],
  leaseMs: number,
): Promise<LeaseRow[]> {
  if (fences.length === 0) return [];
  const { rows } = await db.query<LeaseRow>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[]) WITH ORDINALITY AS u(id, attempts, ord)),
     target AS (
       SELECT j.id, j.group_key FROM ${t.jobs} j JOIN u ON j.id = u.id AND j.attempts = u.attempts
       WHERE j.leased_until IS NOT NULL
       FOR NO KEY UPDATE OF j
     ),
     group_locks AS (${lockGroupsSql(t, 'target')}),
     upd AS (
       UPDATE ${t.jobs} j SET leased_until = now() + $3::bigint * interval '1 millisecond',
         run_at = now() + $3::bigint * interval '1 millisecond', updated_at = now()
       WHERE j.id IN (SELECT id FROM target) AND (SELECT count(*) FROM group_locks) >= 0
       RETURNING j.id, j.attempts)
     SELECT u.id::text AS id, (upd.id IS NOT NULL) AS updated, coalesce(upd.attempts, cur.attempts) AS current_attempts
     FROM u LEFT JOIN upd ON upd.id = u.id LEFT JOIN ${t.jobs} cur ON cur.id = u.id
     ORDER BY u.ord`,
    [fences.map((f) => f.id), fences.map((f) => f.attempts), leaseMs],
    `${t.statementPrefix}lease:many`,
  );
  return rows;
}

/**
 * The rows of a bulk fenced write, locked in id order (`lock`: FOR NO KEY UPDATE for an update, FOR UPDATE
 * for a delete), as CTE `target` (id, group_key) over CTE `u` (id, attempts), followed by CTE
 * `group_locks`: their group rows in key order. Every multi-row write takes its rows this way before
 * writing, so its group triggers find their rows already held, in the order every statement uses.
 */
export function fencedTargetsSql(t: QueueTables, lock: 'FOR UPDATE' | 'FOR NO KEY UPDATE'): string {
  return `target AS (
       SELECT g.id, g.group_key FROM (SELECT * FROM u ORDER BY u.id) uu CROSS JOIN LATERAL (
         SELECT x.id, x.group_key FROM ${t.jobs} x WHERE ${fencedBy('x', 'uu')} LIMIT 1 ${lock}
       ) g
     ),
     group_locks AS (${lockGroupsSql(t, 'target')})`;
}

/**
 * A statement that writes `set` on every job of `$1..$4` (id, attempts, delay ms, and a text named
 * `text`, as `u`) still held at that attempt, their group rows locked in key order first, like every
 * multi-row write. Returns the ids written, as text.
 */
export function fencedUpdateManySql(t: QueueTables, text: string, set: string): string {
  return `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[]) AS u(id, attempts, delay, ${text})),
     ${fencedTargetsSql(t, 'FOR NO KEY UPDATE')},
     done AS (
       UPDATE ${t.jobs} j SET ${set}
       FROM u WHERE j.id = u.id AND j.id = ANY (ARRAY(SELECT id FROM target))
         AND (SELECT count(*) FROM group_locks) >= 0
       RETURNING j.id
     )
     SELECT id::text AS id FROM done`;
}

export interface RetryItem extends Fence {
  delayMs: number;
  error: string;
}

/**
 * Retries many held jobs in one statement (jobRetry for each: the error recorded, the next run after its
 * delay, or, on the final attempt, the lease ended so the reaper dead-letters it). Returns the ids written.
 */
export async function jobRetryMany(
  db: Executor,
  t: QueueTables,
  items: readonly RetryItem[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    fencedUpdateManySql(
      t,
      'err',
      `leased_until = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
         run_at = CASE WHEN j.attempts >= j.max_attempts THEN now()
                       ELSE now() + u.delay * interval '1 millisecond' END,
         last_error = u.err, worker_id = NULL, updated_at = now()`,
    ),
    [
      items.map((i) => i.id),
      items.map((i) => i.attempts),
      items.map((i) => i.delayMs),
      items.map((i) => i.error),
    ],
    `${t.statementPrefix}retry:many`,
  );
  return rows.map((r) => r.id);
}

/** Schedules a retry after `backoffMs` and records the error. */
export async function jobRetry(
  db: Executor,
  t: QueueTables,
  f: Fence,
  backoffMs: number,
  error: string,
): Promise<number> {
  const res = await db.query(
    // On the final attempt there is no retry to wait for: the lease is ended (not cleared), which makes the
    // job "exhausted" so the reaper dead-letters it instead of leaving it unclaimable forever.
    `UPDATE ${t.jobs} j SET
       leased_until = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
       run_at = CASE WHEN j.attempts >= j.max_attempts THEN now()
                     ELSE now() + $3::bigint * interval '1 millisecond' END,
       last_error = $4, worker_id = NULL, updated_at = now()
     WHERE ${FENCE}`,
    [f.id, f.attempts, backoffMs, error],
    `${t.statementPrefix}retry`,
  );
  return res.rowCount;
}
