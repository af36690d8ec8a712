import { toJobId } from '../core/ids.js';
import { DEFAULT_RESULT_RETAIN_MS, MAX_RESULT_WAIT_MS, type TrackedState } from '../core/tracking.js';
import { checkOptions, durationMs } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { trackedRead, type TrackedRow } from '../db/queries/tracked.js';
import { JobFailedError, ResultNotFoundError, ResultTimeoutError } from '../errors.js';
import type { Job, JobId } from '../types.js';
import type { QueueContext } from './context.js';

/** How long `result()` waits when no `timeoutMs` is given: 60 s. */
export const DEFAULT_RESULT_WAIT_MS = 60_000;

/** What is recorded about a tracked job: its state and, once it finished, its result or error. */
export interface JobResult<R = unknown> {
  queue: string;
  jobId: JobId;
  /** unfinished, succeeded, failed (dead-lettered) or cancelled. */
  state: TrackedState;
  /** The handler's return value, once succeeded (null when it returned nothing). */
  value: R | null;
  /** The final error, when failed or cancelled. */
  error: string | null;
  /** The flow and node name, for a flow's node. */
  flowId: string | null;
  node: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  /** When the record goes (retention), once finished. */
  expiresAt: Date | null;
}

/** A job enqueued with `result`: the job, plus `result()` to wait for its outcome from this process. */
export type AwaitableJob<T, R> = Job<T> & {
  /**
   * Resolves with the job's result once it succeeded; rejects with JobFailedError when it was
   * dead-lettered or cancelled, and ResultTimeoutError after `timeoutMs` (default 60 s) if it had not
   * finished. Works for a job finished long ago too, within its result's retention.
   */
  result(options?: { timeoutMs?: number }): Promise<R>;
};

export function toJobResult<R>(row: TrackedRow): JobResult<R> {
  return {
    queue: row.queue,
    jobId: row.job_id,
    state: row.state,
    value: row.state === 'succeeded' ? ((row.result ?? null) as R | null) : null,
    error: row.error,
    flowId: row.flow_id,
    node: row.node,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    expiresAt: row.expires_at,
  };
}

/** The recorded result of job `id` of the context's queue; ResultNotFoundError when there is none. */
export async function readJobResult<R>(ctx: QueueContext, id: unknown): Promise<JobResult<R>> {
  const jobId = toJobId(id);
  const [row] = await withTranslation(ctx, () =>
    trackedRead(ctx.db, ctx.t.schema, [{ queue: ctx.name, id: jobId }]),
  );
  if (!row) throw new ResultNotFoundError(ctx.name, jobId);
  return toJobResult<R>(row);
}

/** Waits for job `id` of the context's queue to finish: its value, or a typed rejection. */
export async function awaitJobResult<R>(ctx: QueueContext, id: unknown, options: unknown): Promise<R> {
  const jobId = toJobId(id);
  const o = checkOptions<{ timeoutMs: number }>(options, 'options', ['timeoutMs']);
  const timeoutMs =
    o.timeoutMs === undefined
      ? DEFAULT_RESULT_WAIT_MS
      : durationMs(o.timeoutMs, 'options.timeoutMs', MAX_RESULT_WAIT_MS, 1);
  if (!ctx.waiter) throw new Error('this queue handle cannot wait for results (no Arbiter behind it)');
  const row = await ctx
    .waiter()
    .wait(ctx.name, jobId, timeoutMs, () => new ResultTimeoutError(ctx.name, jobId, timeoutMs));
  if (row === null) throw new ResultNotFoundError(ctx.name, jobId);
  if (row.state === 'succeeded') return (row.result ?? null) as R;
  throw new JobFailedError(ctx.name, jobId, row.state as 'failed' | 'cancelled', row.error ?? row.state);
}

/** The job with `result()` attached. */
export function awaitable<T, R>(ctx: QueueContext, job: Job<T>): AwaitableJob<T, R> {
  return {
    ...job,
    result: (options?: { timeoutMs?: number }) => awaitJobResult<R>(ctx, job.id, options),
  };
}

export { DEFAULT_RESULT_RETAIN_MS };
