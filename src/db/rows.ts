import type { DeadJob, Job, JobStatus } from '../types.js';
import type { QueueTables } from './sql.js';

/** Columns of a job row, for `SELECT`/`RETURNING` lists, qualified by `alias`. */
export function jobColumns(alias: string): string {
  const a = alias;
  return `${a}.id, ${a}.payload, ${a}.group_key, ${a}.priority, ${a}.run_at, ${a}.leased_until, ${a}.attempts,
    ${a}.max_attempts, ${a}.last_error, ${a}.dedup_key, ${a}.idempotency_key, ${a}.parent_id, ${a}.is_rollup,
    ${a}.suspended, ${a}.parent_state, ${a}.worker_id, ${a}.meta, ${a}.claimed_at, ${a}.created_at, ${a}.updated_at`;
}

/**
 * The derived status of a job row. The single definition of "in flight" is `leased_until > now()`.
 * `waiting` needs the children lookup, so list queries include it and hot paths (claim) do not.
 */
export function statusExpression(t: QueueTables, alias: string): string {
  const a = alias;
  return `CASE
    WHEN ${a}.leased_until > now() THEN 'running'
    WHEN ${a}.suspended AND EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = ${a}.id) THEN 'waiting'
    WHEN ${a}.suspended THEN 'suspended'
    WHEN ${a}.leased_until IS NOT NULL AND ${a}.attempts >= ${a}.max_attempts THEN 'exhausted'
    WHEN ${a}.run_at > now() AND ${a}.attempts > 0 THEN 'retrying'
    WHEN ${a}.run_at > now() THEN 'scheduled'
    ELSE 'pending' END`;
}

/** SELECT list for reads that report status. */
export function jobSelect(t: QueueTables, alias = 'j'): string {
  return `${jobColumns(alias)}, ${statusExpression(t, alias)} AS status`;
}

export interface JobRow {
  id: string;
  payload: unknown;
  group_key: string | null;
  priority: number;
  run_at: Date;
  leased_until: Date | null;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  dedup_key: string | null;
  idempotency_key: string | null;
  parent_id: string | null;
  is_rollup: boolean;
  suspended: boolean;
  parent_state: unknown;
  worker_id: string | null;
  meta: Record<string, unknown> | null;
  claimed_at: Date | null;
  created_at: Date;
  updated_at: Date;
  status?: JobStatus;
}

/**
 * The host clock's offset from the database clock (host minus database, in ms), as last measured by a
 * worker's registry heartbeat; 0 until measured. Only used to derive the status of rows whose query did
 * not compute it: database time is the only clock, and a skewed host clock must not make a job just
 * claimed look expired (host ahead) or a job just released look scheduled (host behind).
 */
let hostClockOffsetMs = 0;

/** Records a measurement of the host clock against the database clock (host minus database, ms). */
export function observeClockOffset(offsetMs: number): void {
  if (Number.isFinite(offsetMs)) hostClockOffsetMs = offsetMs;
}

/**
 * The best estimate of the database's current time: the host clock corrected by the measured offset,
 * and never earlier than the row's `updated_at`, which is the database's own `now()` of the statement
 * that last wrote it (exact for rows returned by a write: claims, inserts, retries).
 */
function databaseNow(r: JobRow): number {
  const estimate = Date.now() - hostClockOffsetMs;
  const written = r.updated_at instanceof Date ? r.updated_at.getTime() : NaN;
  return Number.isNaN(written) ? estimate : Math.max(estimate, written);
}

function deriveStatus(r: JobRow, now: number): JobStatus {
  if (r.leased_until && r.leased_until.getTime() > now) return 'running';
  if (r.suspended) return 'suspended';
  if (r.leased_until && r.attempts >= r.max_attempts) return 'exhausted';
  if (r.run_at.getTime() > now) return r.attempts > 0 ? 'retrying' : 'scheduled';
  return 'pending';
}

export function toJob<T>(queue: string, r: JobRow): Job<T> {
  return {
    id: r.id,
    queue,
    payload: r.payload as T,
    groupKey: r.group_key,
    priority: r.priority,
    runAt: r.run_at,
    leasedUntil: r.leased_until,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    dedupKey: r.dedup_key,
    idempotencyKey: r.idempotency_key,
    parentId: r.parent_id,
    isRollup: r.is_rollup,
    suspended: r.suspended,
    parentState: r.parent_state,
    workerId: r.worker_id,
    meta: r.meta,
    claimedAt: r.claimed_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    status: r.status ?? deriveStatus(r, databaseNow(r)),
  };
}

/**
 * What a claim returns: the columns it did not set itself (see `CLAIMED_COLUMNS` in job-claim.ts). The rest
 * are known here: run_at = leased_until = now() + lease; claimed_at = updated_at = now(); the worker's id;
 * not suspended (only unsuspended rows are claimed, and they stay locked until the update).
 */
export type ClaimedRow = Pick<
  JobRow,
  | 'id'
  | 'payload'
  | 'group_key'
  | 'priority'
  | 'attempts'
  | 'max_attempts'
  | 'last_error'
  | 'dedup_key'
  | 'idempotency_key'
  | 'parent_id'
  | 'is_rollup'
  | 'parent_state'
  | 'meta'
  | 'created_at'
> & { leased_until: Date };

/**
 * The job a claim handed out, built in one step from the claim's row (a claim returns hundreds of rows:
 * filling the missing columns into each row and then copying it cost more than the row's parsing).
 * Millisecond Dates make leasedUntil - lease exactly the statement's now() at that precision.
 */
export function toClaimedJob<T>(
  queue: string,
  r: ClaimedRow,
  leaseMs: number,
  workerId: string | null,
): Job<T> {
  const leased = r.leased_until.getTime();
  const at = leased - leaseMs;
  // The statement's now() is `at`: the database clock cannot be behind it.
  const now = Math.max(Date.now() - hostClockOffsetMs, at);
  return {
    id: r.id,
    queue,
    payload: r.payload as T,
    groupKey: r.group_key,
    priority: r.priority,
    runAt: new Date(leased),
    leasedUntil: r.leased_until,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    dedupKey: r.dedup_key,
    idempotencyKey: r.idempotency_key,
    parentId: r.parent_id,
    isRollup: r.is_rollup,
    suspended: false,
    parentState: r.parent_state,
    workerId,
    meta: r.meta,
    claimedAt: new Date(at),
    createdAt: r.created_at,
    updatedAt: new Date(at),
    // deriveStatus for a row that is not suspended and whose run_at is its lease end.
    status: leased > now ? 'running' : r.attempts >= r.max_attempts ? 'exhausted' : 'pending',
  };
}

export function dlqColumns(alias: string): string {
  const a = alias;
  return `${a}.id, ${a}.job_id, ${a}.payload, ${a}.group_key, ${a}.priority, ${a}.attempts, ${a}.max_attempts,
    ${a}.last_error, ${a}.dedup_key, ${a}.idempotency_key, ${a}.parent_id, ${a}.is_rollup, ${a}.parent_state,
    ${a}.meta, ${a}.created_at, ${a}.failed_at`;
}

export interface DeadJobRow {
  id: string;
  job_id: string;
  payload: unknown;
  group_key: string | null;
  priority: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  dedup_key: string | null;
  idempotency_key: string | null;
  parent_id: string | null;
  is_rollup: boolean;
  parent_state: unknown;
  meta: Record<string, unknown> | null;
  created_at: Date;
  failed_at: Date;
}

export function toDeadJob<T>(queue: string, r: DeadJobRow): DeadJob<T> {
  return {
    id: r.id,
    jobId: r.job_id,
    queue,
    payload: r.payload as T,
    groupKey: r.group_key,
    priority: r.priority,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    dedupKey: r.dedup_key,
    idempotencyKey: r.idempotency_key,
    parentId: r.parent_id,
    isRollup: r.is_rollup,
    parentState: r.parent_state,
    meta: r.meta,
    createdAt: r.created_at,
    failedAt: r.failed_at,
    status: 'dead',
  };
}
