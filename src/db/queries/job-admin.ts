import type { FilterSpec } from '../../core/job-filter.js';
import type { Executor } from '../executor.js';
import { jobSelect, type JobRow } from '../rows.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { SqlParams, filterWhere, readyPredicate } from './filters.js';

// Inspection and operator queries on a queue's live jobs: reads, counts, and actions on one job or a tree.
// Reads report the derived status (jobSelect); writes never touch a leased row's lease.

const NOT_IN_FLIGHT = `(j.leased_until IS NULL OR j.leased_until <= now())`;

export async function jobGet(db: Executor, t: QueueTables, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobSelect(t, 'j')} FROM ${t.jobs} j WHERE j.id = $1::bigint`,
    [id],
  );
  return rows[0] ?? null;
}

/** The live job holding an idempotency key (terminal jobs have left the table), with its status. */
export async function jobGetByIdempotencyKey(
  db: Executor,
  t: QueueTables,
  key: string,
): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobSelect(t, 'j')} FROM ${t.jobs} j WHERE j.idempotency_key = $1`,
    [key],
  );
  return rows[0] ?? null;
}

/**
 * Newest first, keyset-paginated on the primary key: `beforeId` resumes strictly below the last id seen.
 * The page is cut in a subquery before the status is derived: on the whole table the planner turns the
 * status's "has children" probe into a hashed subplan that scans every row, once per page.
 */
export async function jobList(
  db: Executor,
  t: QueueTables,
  spec: FilterSpec,
  beforeId: string | null,
  limit: number,
): Promise<JobRow[]> {
  const p = new SqlParams();
  const where = filterWhere(t, 'jobs', spec, 'j', p);
  const keyset = beforeId === null ? '' : ` AND j.id < ${p.add(beforeId)}::bigint`;
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobSelect(t, 'j')} FROM (
       SELECT * FROM ${t.jobs} j WHERE ${where}${keyset} ORDER BY j.id DESC LIMIT ${p.add(limit)}::int
     ) j ORDER BY j.id DESC`,
    p.values,
  );
  return rows;
}

export async function jobCount(db: Executor, t: QueueTables, spec: FilterSpec): Promise<number> {
  const p = new SqlParams();
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${t.jobs} j WHERE ${filterWhere(t, 'jobs', spec, 'j', p)}`,
    p.values,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Per parent: children still in the queue and how many of them are suspended. */
export async function jobCountChildren(
  db: Executor,
  t: QueueTables,
  parentIds: readonly string[],
): Promise<{ parent_id: string; total: string; paused: string }[]> {
  const { rows } = await db.query<{ parent_id: string; total: string; paused: string }>(
    `SELECT c.parent_id, count(*) AS total, count(*) FILTER (WHERE c.suspended) AS paused
     FROM ${t.jobs} c WHERE c.parent_id = ANY($1::bigint[]) GROUP BY c.parent_id`,
    [parentIds],
  );
  return rows;
}

/** Per parent: children in the dead-letter table. */
export async function jobCountDeadChildren(
  db: Executor,
  t: QueueTables,
  parentIds: readonly string[],
): Promise<{ parent_id: string; n: string }[]> {
  const { rows } = await db.query<{ parent_id: string; n: string }>(
    `SELECT d.parent_id, count(*) AS n FROM ${t.dlq} d WHERE d.parent_id = ANY($1::bigint[]) GROUP BY d.parent_id`,
    [parentIds],
  );
  return rows;
}

/**
 * Makes a delayed or retrying job claimable now. Refuses leased jobs (a lease is never shortened by an
 * operator), suspended jobs, and jobs already due. In a group, the trigger also lifts a retry backoff
 * that was blocking the group.
 */
export async function jobPromote(db: Executor, t: QueueTables, id: string): Promise<number> {
  const res = await db.query(
    `UPDATE ${t.jobs} j SET run_at = now(), updated_at = now()
     WHERE j.id = $1::bigint AND j.run_at > now() AND NOT j.suspended AND ${NOT_IN_FLIGHT}`,
    [id],
  );
  return res.rowCount;
}

/**
 * Resuming never releases a job that waits for its dependencies, or that a failed dependency cancelled
 * (flows, docs/workflows.md): only its dependencies finishing (or a dead-letter retry) do. `$queue` is the
 * parameter holding the queue name. Only rows marked tracked look at _tracked_jobs.
 */
function notHeldByDependencies(t: QueueTables, queueParam: string): string {
  return `NOT (coalesce(j.meta ? 'arbiter', false) AND EXISTS (
    SELECT 1 FROM ${quoteIdent(t.schema)}._tracked_jobs tr
    WHERE tr.queue = ${queueParam} AND tr.job_id = j.id AND (tr.deps_pending > 0 OR tr.state <> 'pending')))`;
}

/**
 * Suspends or resumes one job (`job`) or a parent's children (`children`), in one statement.
 * Suspending skips jobs in flight (they finish normally) and jobs already suspended. Resuming skips a
 * suspended parent that still has children: it is waiting for them, not paused, and resuming it would
 * run its completion round early.
 */
async function setSuspended(
  db: Executor,
  t: QueueTables,
  target: 'job' | 'children',
  id: string,
  suspended: boolean,
): Promise<number> {
  const who = target === 'job' ? 'j.id = $1::bigint' : 'j.parent_id = $1::bigint';
  const guard = suspended
    ? `NOT j.suspended AND ${NOT_IN_FLIGHT}`
    : `j.suspended AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id) AND ${notHeldByDependencies(t, '$3')}`;
  const res = await db.query(
    `UPDATE ${t.jobs} j SET suspended = $2, updated_at = now() WHERE ${who} AND ${guard}`,
    suspended ? [id, suspended] : [id, suspended, t.queue],
  );
  return res.rowCount;
}

/**
 * promote / suspend / resume for many jobs in one statement, same guards as the single-job forms. The
 * caller runs it in a transaction after lockForDelete, so concurrent multi-row writes lock in one order.
 */
export async function jobActMany(
  tx: Executor,
  t: QueueTables,
  action: 'promote' | 'suspend' | 'resume',
  ids: readonly string[],
): Promise<number> {
  const guard =
    action === 'promote'
      ? `j.run_at > now() AND NOT j.suspended AND ${NOT_IN_FLIGHT}`
      : action === 'suspend'
        ? `NOT j.suspended AND ${NOT_IN_FLIGHT}`
        : `j.suspended AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id) AND ${notHeldByDependencies(t, '$2')}`;
  const set = action === 'promote' ? 'run_at = now()' : `suspended = ${action === 'suspend'}`;
  const res = await tx.query(
    `UPDATE ${t.jobs} j SET ${set}, updated_at = now() WHERE j.id = ANY($1::bigint[]) AND ${guard}`,
    action === 'resume' ? [ids, t.queue] : [ids],
  );
  return res.rowCount;
}

export const jobSuspend = (db: Executor, t: QueueTables, id: string) => setSuspended(db, t, 'job', id, true);
export const jobResume = (db: Executor, t: QueueTables, id: string) => setSuspended(db, t, 'job', id, false);
export const jobPauseChildren = (db: Executor, t: QueueTables, parentId: string) =>
  setSuspended(db, t, 'children', parentId, true);
export const jobResumeChildren = (db: Executor, t: QueueTables, parentId: string) =>
  setSuspended(db, t, 'children', parentId, false);

export interface StatsRow {
  total: string;
  ready: string;
  in_flight: string;
  scheduled: string;
  retrying: string;
  suspended: string;
  dead: string;
  groups: string;
  oldest_ready_age: number | null;
}

/**
 * Queue statistics in one statement: a single pass over the job table with filtered aggregates (cheaper
 * than one index scan per figure once most rows are counted anyway), plus the group and dead-letter counts.
 */
export async function jobStats(db: Executor, t: QueueTables): Promise<StatsRow> {
  const ready = readyPredicate(t, 'j');
  const live = `(${NOT_IN_FLIGHT} AND NOT j.suspended AND (j.leased_until IS NULL OR j.attempts < j.max_attempts))`;
  const { rows } = await db.query<StatsRow>(
    `SELECT count(*) AS total,
       count(*) FILTER (WHERE ${ready}) AS ready,
       count(*) FILTER (WHERE j.leased_until > now()) AS in_flight,
       count(*) FILTER (WHERE ${live} AND j.run_at > now() AND j.attempts = 0) AS scheduled,
       count(*) FILTER (WHERE ${live} AND j.run_at > now() AND j.attempts > 0) AS retrying,
       count(*) FILTER (WHERE ${NOT_IN_FLIGHT} AND j.suspended) AS suspended,
       extract(epoch FROM now() - min(j.run_at) FILTER (WHERE ${ready}))::float8 AS oldest_ready_age,
       (SELECT count(*) FROM ${t.groups}) AS groups,
       (SELECT count(*) FROM ${t.dlq}) AS dead
     FROM ${t.jobs} j`,
  );
  return rows[0]!;
}

/** Jobs claimable now, ignoring group serialization. */
export async function jobDepth(db: Executor, t: QueueTables): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${t.jobs} j WHERE ${readyPredicate(t, 'j')}`,
  );
  return Number(rows[0]?.n ?? 0);
}
