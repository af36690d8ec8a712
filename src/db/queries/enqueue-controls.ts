import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// Enqueue controls (migration 0007). Every statement here runs inside the transaction of one controlled
// enqueue, after that enqueue took the advisory lock of its key (controlLock): the key's row is read and
// written by one enqueue at a time, so the checks below count exactly however many producers race.
// Plain enqueues never come here.

/** Uniqueness over a period, debounce or throttle, validated (see EnqueueOptions). */
export type EnqueueControl =
  | { kind: 'unique'; key: string; holdMs: number; holdOn: 'succeeded' | 'dead' | 'finished' }
  | { kind: 'debounce'; key: string; windowMs: number; maxWaitMs: number | null }
  | { kind: 'throttle'; key: string; windowMs: number; trailing: boolean };

/** maxQueued, validated. */
export interface DepthCap {
  limit: number;
  scope: 'queue' | 'group';
  overflow: 'reject' | 'dropOldest' | 'wait';
  timeoutMs: number;
}

/** Counters of controlled enqueues (`_enqueue_stats.kind`). */
export type ControlStat =
  'debounced' | 'throttled' | 'unique_rejected' | 'overflow_rejected' | 'overflow_dropped';

export const CONTROL_STATS: readonly ControlStat[] = [
  'debounced',
  'throttled',
  'unique_rejected',
  'overflow_rejected',
  'overflow_dropped',
];

/** How long a debounce row outlives its job's run time (the job read shows its absorbed count). */
const DEBOUNCE_ROW_GRACE = `interval '1 hour'`;
const STAT_SHARDS = 8;

export const keysTable = (schema: string): string => `${quoteIdent(schema)}._enqueue_keys`;
export const statsTable = (schema: string): string => `${quoteIdent(schema)}._enqueue_stats`;

/**
 * Serializes the controlled enqueues of one key (or one cap) until the transaction ends. A separate
 * statement from the reads that follow: a READ COMMITTED statement's snapshot is taken when it starts, so
 * only a statement after the lock sees what the previous holder committed.
 */
export async function controlLock(db: Executor, t: QueueTables, what: string): Promise<void> {
  await db.query(
    'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
    [`arbiter:ctl:${t.schema}.${t.queue}:${what}`],
    `${t.statementPrefix}ctl:lock`,
  );
}

// ------------------------------------------------------------------------------------------ unique

export interface UniqueState {
  jobId: string | null;
  live: boolean;
  taken: boolean;
}

/**
 * Whether a unique key is taken: by its live job, or, once that job is gone, until the expiry its finish
 * gives (found here, and stored, the first time the job is seen gone: a dead letter's failed_at, else
 * now). Null when the key has no row.
 */
export async function uniqueState(db: Executor, t: QueueTables, key: string): Promise<UniqueState | null> {
  const k = keysTable(t.schema);
  const { rows } = await db.query<{ job_id: string | null; live: boolean; taken: boolean }>(
    `WITH k AS (
       SELECT k.job_id, k.expires_at, k.hold_ms, k.hold_on,
              k.expires_at IS NULL AND EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.id = k.job_id) AS live
       FROM ${k} k WHERE k.queue = $1 AND k.kind = 'unique' AND k.key = $2),
     r AS (
       SELECT k.job_id, k.live, k.expires_at IS NULL AND NOT k.live AS resolved,
              CASE WHEN k.expires_at IS NOT NULL OR k.live THEN k.expires_at
                   ELSE ${finishExpiry(t, 'k')} END AS expiry
       FROM k),
     u AS (
       UPDATE ${k} x SET expires_at = r.expiry FROM r
       WHERE r.resolved AND x.queue = $1 AND x.kind = 'unique' AND x.key = $2 AND x.expires_at IS NULL)
     SELECT r.job_id, r.live, r.live OR r.expiry > now() AS taken FROM r`,
    [t.queue, key],
    `${t.statementPrefix}ctl:unique`,
  );
  const r = rows[0];
  return r ? { jobId: r.job_id, live: r.live, taken: r.taken } : null;
}

/**
 * When a finished unique job's key frees: its finish (a dead letter's failed_at, else now, when it was
 * first seen gone) plus hold_ms if it finished the way hold_on says, else at its finish. `a` has job_id,
 * hold_ms and hold_on.
 */
function finishExpiry(t: QueueTables, a: string): string {
  const failed = `(SELECT max(d.failed_at) FROM ${t.dlq} d WHERE d.job_id = ${a}.job_id)`;
  return `(SELECT coalesce(f.at, now()) + CASE
              WHEN ${a}.hold_on = 'finished' OR (${a}.hold_on = 'dead') = (f.at IS NOT NULL)
              THEN ${a}.hold_ms ELSE 0 END * interval '1 millisecond'
           FROM (SELECT ${failed} AS at) f)`;
}

/** Records `jobId` as the live holder of a unique key. */
export async function uniqueTake(
  db: Executor,
  t: QueueTables,
  c: Extract<EnqueueControl, { kind: 'unique' }>,
  jobId: string,
): Promise<void> {
  await db.query(
    `INSERT INTO ${keysTable(t.schema)} AS k (queue, kind, key, job_id, expires_at, hold_ms, hold_on)
     VALUES ($1, 'unique', $2, $3, NULL, $4, $5)
     ON CONFLICT (queue, kind, key) DO UPDATE SET
       job_id = EXCLUDED.job_id, expires_at = NULL, hold_ms = EXCLUDED.hold_ms, hold_on = EXCLUDED.hold_on`,
    [t.queue, c.key, jobId, c.holdMs, c.holdOn],
    `${t.statementPrefix}ctl:unique-take`,
  );
}

// ---------------------------------------------------------------------------------------- debounce

/**
 * Folds an enqueue into its key's pending job (never claimed yet): the job takes the new payload and meta
 * and runs `windowMs` from now, but no later than `maxWaitMs` after the first enqueue it absorbed; the
 * key's absorbed count goes up. Null when the key has no pending job (a claim got there first: the
 * UPDATE re-checks the row it waited for).
 */
export async function debounceAbsorb(
  db: Executor,
  t: QueueTables,
  c: Extract<EnqueueControl, { kind: 'debounce' }>,
  payload: string,
  meta: string | null,
): Promise<(JobRow & { capped: boolean }) | null> {
  const k = keysTable(t.schema);
  const { rows } = await db.query<JobRow & { capped: boolean }>(
    `WITH u AS (
       UPDATE ${t.jobs} j SET payload = $3::jsonb, meta = $4::jsonb, updated_at = now(),
         run_at = least(now() + $5::bigint * interval '1 millisecond',
                        coalesce(k.first_at + $6::bigint * interval '1 millisecond', 'infinity'))
       FROM ${k} k
       WHERE k.queue = $1 AND k.kind = 'debounce' AND k.key = $2 AND j.id = k.job_id
         AND j.attempts = 0 AND j.leased_until IS NULL
       RETURNING ${jobColumns('j')}, j.run_at < now() + $5::bigint * interval '1 millisecond' AS capped),
     c AS (
       UPDATE ${k} k SET absorbed = k.absorbed + 1, expires_at = u.run_at + ${DEBOUNCE_ROW_GRACE}
       FROM u WHERE k.queue = $1 AND k.kind = 'debounce' AND k.key = $2)
     SELECT * FROM u`,
    [t.queue, c.key, payload, meta, c.windowMs, c.maxWaitMs],
    `${t.statementPrefix}ctl:debounce`,
  );
  return rows[0] ?? null;
}

/** Makes `jobId` (just inserted, due in windowMs) the key's pending job: first enqueue now, none absorbed. */
export async function debounceStart(db: Executor, t: QueueTables, key: string, job: JobRow): Promise<void> {
  await db.query(
    `INSERT INTO ${keysTable(t.schema)} AS k (queue, kind, key, job_id, first_at, absorbed, expires_at)
     VALUES ($1, 'debounce', $2, $3, now(), 0, $4::timestamptz + ${DEBOUNCE_ROW_GRACE})
     ON CONFLICT (queue, kind, key) DO UPDATE SET
       job_id = EXCLUDED.job_id, first_at = EXCLUDED.first_at, absorbed = 0, expires_at = EXCLUDED.expires_at`,
    [t.queue, key, job.id, job.run_at],
    `${t.statementPrefix}ctl:debounce-start`,
  );
}

/** A debounced job's key and absorbed count, for the job read; null for a job that was not debounced. */
export async function debounceOf(
  db: Executor,
  t: QueueTables,
  jobId: string,
): Promise<{ key: string; absorbed: number } | null> {
  const { rows } = await db.query<{ key: string; absorbed: number }>(
    `SELECT key, absorbed FROM ${keysTable(t.schema)}
     WHERE queue = $1 AND kind = 'debounce' AND job_id = $2::bigint`,
    [t.queue, jobId],
  );
  return rows[0] ?? null;
}

// ---------------------------------------------------------------------------------------- throttle

export interface ThrottleState {
  jobId: string;
  /** The window is still open (its end is after now). */
  open: boolean;
  /** The window's end. */
  expiresAt: Date;
  /** The row's job is a trailing job that has not been claimed yet. */
  trailingPending: boolean;
}

export async function throttleState(
  db: Executor,
  t: QueueTables,
  key: string,
): Promise<ThrottleState | null> {
  const { rows } = await db.query<{ job_id: string; open: boolean; expires_at: Date; pending: boolean }>(
    `SELECT k.job_id, k.expires_at, k.expires_at > now() AS open,
            k.is_trailing AND EXISTS (SELECT 1 FROM ${t.jobs} j
                                   WHERE j.id = k.job_id AND j.attempts = 0 AND j.leased_until IS NULL) AS pending
     FROM ${keysTable(t.schema)} k WHERE k.queue = $1 AND k.kind = 'throttle' AND k.key = $2`,
    [t.queue, key],
    `${t.statementPrefix}ctl:throttle`,
  );
  const r = rows[0];
  return r ? { jobId: r.job_id, open: r.open, expiresAt: r.expires_at, trailingPending: r.pending } : null;
}

/**
 * Records the job a throttle let through: a leading job opens a window of `windowMs` from now; a trailing
 * one (due at the end of the current window) opens the next window, from its run time.
 */
export async function throttleSet(
  db: Executor,
  t: QueueTables,
  key: string,
  jobId: string,
  windowMs: number,
  trailingFrom: Date | null,
): Promise<void> {
  await db.query(
    `INSERT INTO ${keysTable(t.schema)} AS k (queue, kind, key, job_id, expires_at, is_trailing)
     VALUES ($1, 'throttle', $2, $3, coalesce($4::timestamptz, now()) + $5::bigint * interval '1 millisecond',
             $4::timestamptz IS NOT NULL)
     ON CONFLICT (queue, kind, key) DO UPDATE SET
       job_id = EXCLUDED.job_id, expires_at = EXCLUDED.expires_at, is_trailing = EXCLUDED.is_trailing`,
    [t.queue, key, jobId, trailingFrom, windowMs],
    `${t.statementPrefix}ctl:throttle-set`,
  );
}

/** Gives a pending trailing job the newest payload and meta; null when it was claimed meanwhile. */
export async function throttleReplaceTrailing(
  db: Executor,
  t: QueueTables,
  jobId: string,
  payload: string,
  meta: string | null,
): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `UPDATE ${t.jobs} j SET payload = $2::jsonb, meta = $3::jsonb, updated_at = now()
     WHERE j.id = $1 AND j.attempts = 0 AND j.leased_until IS NULL
     RETURNING ${jobColumns('j')}`,
    [jobId, payload, meta],
    `${t.statementPrefix}ctl:throttle-trailing`,
  );
  return rows[0] ?? null;
}

// ------------------------------------------------------------------------------------ backpressure

/**
 * How many waiting jobs (not leased) the cap's scope holds, counting at most `limit + 1`: a bounded
 * probe, never a full count. The group scope walks the group index; the queue scope the table, stopping
 * at limit + 1 rows (in-flight rows are skipped, and there are at most as many as workers hold).
 */
export async function capProbe(
  db: Executor,
  t: QueueTables,
  limit: number,
  groupKey: string | null,
): Promise<number> {
  const where = groupKey === null ? '' : 'AND j.group_key = $2';
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT 1 FROM ${t.jobs} j WHERE j.leased_until IS NULL ${where} LIMIT $1::int + 1) x`,
    groupKey === null ? [limit] : [limit, groupKey],
    `${t.statementPrefix}ctl:cap:${groupKey === null ? 'q' : 'g'}`,
  );
  return rows[0]!.n;
}

/**
 * Deletes the oldest waiting job of the scope to make room: never leased, not in a tree (no parent, no
 * children, not a rollup), not awaited or in a flow, not locked by anyone. Returns its id, or null when there is none.
 */
export async function capDropOldest(
  db: Executor,
  t: QueueTables,
  groupKey: string | null,
): Promise<string | null> {
  const where = groupKey === null ? '' : 'AND j.group_key = $1';
  const { rows } = await db.query<{ id: string }>(
    `DELETE FROM ${t.jobs} d WHERE d.id = (
       SELECT j.id FROM ${t.jobs} j
       WHERE j.leased_until IS NULL AND j.attempts = 0 AND j.parent_id IS NULL AND NOT j.is_rollup ${where}
         AND NOT coalesce(j.meta ? 'arbiter', false)
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       ORDER BY j.id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING d.id`,
    groupKey === null ? [] : [groupKey],
    `${t.statementPrefix}ctl:drop:${groupKey === null ? 'q' : 'g'}`,
  );
  return rows[0]?.id ?? null;
}

// ------------------------------------------------------------------------------------------- stats

/** A small stable hash of a key, so one key's counts always land on the same shard. */
function shardOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h) % STAT_SHARDS;
}

export async function statBump(db: Executor, t: QueueTables, stat: ControlStat, key: string): Promise<void> {
  await db.query(
    `INSERT INTO ${statsTable(t.schema)} AS s (queue, kind, shard, count) VALUES ($1, $2, $3, 1)
     ON CONFLICT (queue, kind, shard) DO UPDATE SET count = s.count + 1`,
    [t.queue, stat, shardOf(key)],
    `${t.statementPrefix}ctl:stat`,
  );
}

/** Every queue's counters, summed over shards. */
export async function statsRead(
  db: Executor,
  schema: string,
): Promise<{ queue: string; kind: ControlStat; count: number }[]> {
  const { rows } = await db.query<{ queue: string; kind: ControlStat; count: string }>(
    `SELECT queue, kind, sum(count)::text AS count FROM ${statsTable(schema)} GROUP BY queue, kind
     ORDER BY queue, kind`,
  );
  return rows.map((r) => ({ queue: r.queue, kind: r.kind, count: Number(r.count) }));
}

// ------------------------------------------------------------------------------------- maintenance

/** Deletes up to `batch` key rows past their expiry (any queue). Returns how many. */
export async function keysPruneExpired(db: Executor, schema: string, batch: number): Promise<number> {
  const k = keysTable(schema);
  const res = await db.query(
    `DELETE FROM ${k} WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM ${k} WHERE expires_at < now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))`,
    [batch],
  );
  return res.rowCount;
}

/** Deletes up to `batch` key rows of queues that no longer exist. */
export async function keysPruneOrphans(db: Executor, schema: string, batch: number): Promise<number> {
  const k = keysTable(schema);
  const res = await db.query(
    `DELETE FROM ${k} WHERE ctid = ANY (ARRAY(
       SELECT k.ctid FROM ${k} k
       WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(schema)}._queues q WHERE q.name = k.queue)
       LIMIT $1 FOR UPDATE SKIP LOCKED))`,
    [batch],
  );
  return res.rowCount;
}

/**
 * Gives up to `batch` unique keys of a queue whose job is gone their expiry (as uniqueState would), so
 * the expiry sweep can remove them in time. Keys being enqueued right now are skipped (locked rows).
 */
export async function keysResolveFinished(db: Executor, t: QueueTables, batch: number): Promise<number> {
  const k = keysTable(t.schema);
  const res = await db.query(
    `UPDATE ${k} x SET expires_at = ${finishExpiry(t, 'x')}
     WHERE x.ctid = ANY (ARRAY(
       SELECT k.ctid FROM ${k} k
       WHERE k.queue = $1 AND k.expires_at IS NULL AND k.kind = 'unique'
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.id = k.job_id)
       LIMIT $2 FOR UPDATE SKIP LOCKED))
       AND x.expires_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.id = x.job_id)`,
    [t.queue, batch],
  );
  return res.rowCount;
}
