import { LIMIT_KEY_META } from '../core/flow-limits.js';
import type { DeadJob, Job, JobStatus } from '../types.js';
import { waitsForDependencies, type QueueTables } from './sql.js';

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
    WHEN ${a}.leased_until > now() THEN 'in-flight'
    WHEN ${a}.suspended AND (EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = ${a}.id)
      OR ${waitsForDependencies(t, a)}) THEN 'waiting'
    WHEN ${a}.suspended THEN 'suspended'
    WHEN ${a}.leased_until IS NOT NULL AND ${a}.attempts >= ${a}.max_attempts THEN 'exhausted'
    WHEN ${a}.run_at > now() AND ${a}.attempts > 0 THEN 'retrying'
    WHEN ${a}.run_at > now() THEN 'scheduled'
    ELSE 'ready' END`;
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
 * worker's registry heartbeat; 0 until measured. One per worker, shared by the stores it reads jobs
 * through (JobStore.clockOffset). Only used to derive the status of rows whose query did not compute it:
 * database time is the only clock, and a skewed host clock must not make a job just claimed look expired
 * (host ahead) or a job just released look scheduled (host behind).
 */
export class ClockOffset {
  private offsetMs = 0;

  /** Records a measurement of the host clock against the database clock (host minus database, ms). */
  observe(offsetMs: number): void {
    if (Number.isFinite(offsetMs)) this.offsetMs = offsetMs;
  }

  /**
   * The best estimate of the database's current time: the host clock corrected by the measured offset,
   * and never earlier than `writtenAt`, the database's own `now()` of the statement that last wrote the
   * row (its `updated_at`: exact for rows returned by a write: claims, inserts, retries). NaN when unknown.
   */
  databaseNow(writtenAt: number): number {
    const estimate = Date.now() - this.offsetMs;
    return Number.isNaN(writtenAt) ? estimate : Math.max(estimate, writtenAt);
  }
}

/** For rows read where no offset was measured: the host clock as it is. */
const UNMEASURED = new ClockOffset();

function deriveStatus(
  leasedUntil: Date | null,
  suspended: boolean,
  attempts: number,
  maxAttempts: number,
  runAt: Date,
  now: number,
): JobStatus {
  if (leasedUntil && leasedUntil.getTime() > now) return 'in-flight';
  if (suspended) return 'suspended';
  if (leasedUntil && attempts >= maxAttempts) return 'exhausted';
  if (runAt.getTime() > now) return attempts > 0 ? 'retrying' : 'scheduled';
  return 'ready';
}

/** The columns a claim sets to values known to the client, and so does not return (see ClaimedRow). */
type SetByClaim = 'run_at' | 'suspended' | 'worker_id' | 'claimed_at' | 'updated_at' | 'status';

/**
 * A Job from a row's own columns plus the ones given separately. The one place a Job is built, so a row
 * is read once into an object of one shape and never modified (pg's row objects slow down once they
 * change shape after parsing).
 */
function assemble<T>(
  queue: string,
  r: Omit<JobRow, SetByClaim>,
  runAt: Date,
  suspended: boolean,
  workerId: string | null,
  claimedAt: Date | null,
  updatedAt: Date,
  status: JobStatus,
): Job<T> {
  return {
    id: r.id,
    queue,
    payload: r.payload as T,
    groupKey: r.group_key,
    priority: r.priority,
    runAt,
    leasedUntil: r.leased_until,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    dedupKey: r.dedup_key,
    idempotencyKey: r.idempotency_key,
    limitKey: limitKeyOf(r.meta),
    parentId: r.parent_id,
    isRollup: r.is_rollup,
    suspended,
    parentState: r.parent_state,
    workerId,
    meta: r.meta,
    claimedAt,
    createdAt: r.created_at,
    updatedAt,
    status,
  };
}

export function toJob<T>(queue: string, r: JobRow, offset: ClockOffset = UNMEASURED): Job<T> {
  const status =
    r.status ??
    deriveStatus(
      r.leased_until,
      r.suspended,
      r.attempts,
      r.max_attempts,
      r.run_at,
      offset.databaseNow(r.updated_at instanceof Date ? r.updated_at.getTime() : NaN),
    );
  return assemble(queue, r, r.run_at, r.suspended, r.worker_id, r.claimed_at, r.updated_at, status);
}

/**
 * What a claim returns: the columns it did not set itself (see `CLAIMED_COLUMNS` in job-claim.ts). The rest
 * are known here: run_at = leased_until = now() + lease; claimed_at = updated_at = now(); the worker's id;
 * not suspended (only unsuspended rows are claimed, and they stay locked until the update).
 */
export type ClaimedRow = Omit<JobRow, SetByClaim> & { leased_until: Date };

/**
 * The job a claim handed out, built from the claim's row and what the claim set. Millisecond Dates make
 * leasedUntil - lease exactly the statement's now() at that precision.
 */
export function toClaimedJob<T>(
  queue: string,
  r: ClaimedRow,
  leaseMs: number,
  workerId: string | null,
  offset: ClockOffset = UNMEASURED,
): Job<T> {
  const leased = r.leased_until.getTime();
  const at = leased - leaseMs;
  const runAt = new Date(leased);
  const status = deriveStatus(
    r.leased_until,
    false,
    r.attempts,
    r.max_attempts,
    runAt,
    offset.databaseNow(at),
  );
  return assemble(queue, r, runAt, false, workerId, new Date(at), new Date(at), status);
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
    limitKey: limitKeyOf(r.meta),
    parentId: r.parent_id,
    isRollup: r.is_rollup,
    parentState: r.parent_state,
    meta: r.meta,
    createdAt: r.created_at,
    failedAt: r.failed_at,
    status: 'dead',
  };
}

/** A job's limit key, kept in its meta (see the `limitKey` enqueue option). */
function limitKeyOf(meta: Record<string, unknown> | null): string | null {
  const k = meta?.[LIMIT_KEY_META];
  return typeof k === 'string' ? k : null;
}
