import type { QueueContext } from './context.js';
import { encodeCursor } from '../core/cursor.js';
import { toJobId, toJobIds } from '../core/ids.js';
import { JOB_CURSOR_KIND, normalizeFilter, pageRequest, type FilterSpec } from '../core/job-filter.js';
import { LIMITS, checkOptions, durationMs, optionalKey } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { debounceOf } from '../db/queries/enqueue-controls.js';
import { groupRefresh } from '../db/queries/group-refresh.js';
import {
  jobCount,
  jobCountChildren,
  jobCountDeadChildren,
  jobDepth,
  jobGet,
  jobGetByIdempotencyKey,
  jobActMany,
  jobList,
  jobPauseChildren,
  jobPromote,
  jobResume,
  jobResumeChildren,
  jobStats,
  jobSuspend,
} from '../db/queries/job-admin.js';
import { jobAttemptsGet } from '../db/queries/job-attempts.js';
import { jobProgressGet } from '../db/queries/job-progress.js';
import { stepList, waitGet } from '../db/queries/steps.js';
import { jobCancelCascade, jobCancelMany, jobTreeRoot, lockForDelete } from '../db/queries/job-cancel.js';
import { toJob, type JobRow } from '../db/rows.js';
import { QueueNotFoundError, ValidationError } from '../errors.js';
import { getGroup, listGroups, type GroupInfo } from './groups.js';
import {
  overviewCap,
  readQueueOverview,
  type OverviewOptions,
  type QueueOverview,
} from './queue-overview.js';
import { explainJob, type JobExplanation } from './why.js';
import { readJobResult, type JobResult } from './awaitable.js';
import type {
  ChildCounts,
  Job,
  JobFilter,
  JobAttempt,
  JobReport,
  JobId,
  JobStep,
  JobWait,
  ListJobsOptions,
  Page,
  PageOptions,
  QueueStats,
  RefreshGroupsOptions,
} from '../types.js';

type IdInput = JobId | number | bigint;

/**
 * Inspection and operator actions on a queue's live jobs (`queue.jobs`). Jobs that finished have left the
 * table; dead ones are in `queue.dlq`. Every method validates its input before any I/O and throws
 * ValidationError (or another typed ArbiterError); actions return how many jobs they changed, and 0 when
 * the job is gone or the action does not apply to its current state.
 */
export class JobsAdmin<T = unknown> {
  constructor(protected readonly ctx: QueueContext) {}
  /** @internal ties the payload type to the facet */
  protected readonly _payload?: T;

  // ---------------------------------------------------------------- reads

  /** The job with this id, or null (finished, dead-lettered, cancelled or never existed). */
  /**
   * What is recorded about a tracked job (enqueued with `result`, a flow node, or a dependency): its state
   * and, once finished, its result or final error. Kept for the result's retention after it finished;
   * ResultNotFoundError when there is no record.
   */
  async result<R = unknown>(id: IdInput): Promise<JobResult<R>> {
    return readJobResult<R>(this.ctx, id);
  }

  async get(id: IdInput): Promise<Job<T> | null> {
    const jobId = toJobId(id);
    const row = await this.run(() => jobGet(this.ctx.db, this.ctx.t, jobId));
    if (!row) return null;
    const job = this.job(row);
    // A debounced job carries how many enqueues it absorbed (docs/enqueue.md).
    const debounced = await this.run(() => debounceOf(this.ctx.db, this.ctx.t, jobId));
    return debounced ? { ...job, debounced } : job;
  }

  /**
   * What the job reported while running (progress, metadata, its newest log lines), or null when it never
   * reported. Kept after the job finished (or was dead-lettered) until retention prunes it. Two index
   * probes: the job's row, and the last report its ack carried (see jobProgressGet).
   */
  async report(id: IdInput): Promise<JobReport | null> {
    const jobId = toJobId(id);
    const row = await this.run(() => jobProgressGet(this.ctx.db, this.ctx.t, jobId));
    if (!row) return null;
    return {
      attempt: row.attempt,
      progress: row.progress,
      meta: row.meta,
      logs: row.logs.map((l) => ({ at: new Date(l.at), attempt: l.attempt, message: l.message })),
      updatedAt: row.updated_at,
    };
  }

  /**
   * Every failed attempt of the job (error, worker, start, duration), oldest first: the newest 100. Also
   * for a job that was dead-lettered (pass its job id) or that finished after retries, until retention
   * prunes them. Empty for a job that never failed.
   */
  async attempts(id: IdInput): Promise<JobAttempt[]> {
    const jobId = toJobId(id);
    const rows = await this.run(() => jobAttemptsGet(this.ctx.db, this.ctx.t, jobId));
    return rows.map((r) => ({
      attempt: r.attempt,
      error: r.error,
      workerId: r.worker_id,
      startedAt: r.started_at,
      durationMs: r.duration_ms === null ? null : Math.round(r.duration_ms),
      failedAt: r.failed_at,
    }));
  }

  /**
   * The job's finished durable steps (ctx.step, sleeps, waits), in the order they finished. Also for a
   * job kept in history or dead-lettered; empty once the job is gone.
   */
  async steps(id: IdInput): Promise<JobStep[]> {
    const jobId = toJobId(id);
    const rows = await this.run(() => stepList(this.ctx.db, this.ctx.t, jobId));
    return rows.map((r) => ({
      name: r.name,
      kind: r.kind,
      result: r.result,
      attempt: r.attempt,
      finishedAt: r.finished_at,
    }));
  }

  /** What the parked job waits for (ctx.waitFor, ctx.sleep), or null when it waits for nothing. */
  async waiting(id: IdInput): Promise<JobWait | null> {
    const jobId = toJobId(id);
    const row = await this.run(() => waitGet(this.ctx.db, this.ctx.t, jobId));
    if (!row) return null;
    return { kind: row.kind, event: row.event, until: row.until, step: row.step, since: row.created_at };
  }

  /** The live (not yet finished) job holding this idempotency key, or null. */
  async byIdempotencyKey(key: string): Promise<Job<T> | null> {
    const k = optionalKey(key, 'key');
    if (k === null) throw new ValidationError('key', key, 'must be a non-empty string');
    const row = await this.run(() => jobGetByIdempotencyKey(this.ctx.db, this.ctx.t, k));
    return row ? this.job(row) : null;
  }

  /**
   * Jobs matching `filter` (all of its fields), newest first. Keyset-paginated: pass `nextCursor` back as
   * `cursor`; pages stay gap- and duplicate-free while jobs are added or removed. `limit` 1–1000, default 50.
   * One group's jobs: `{ filter: { groupKey } }`; jobs in flight: `{ filter: { status: 'in-flight' } }`;
   * a job's children: `{ filter: { parentId } }`.
   */
  async list(options: ListJobsOptions = {}): Promise<Page<Job<T>>> {
    const o = checkOptions<ListJobsOptions>(options, 'options', ['filter', 'limit', 'cursor']);
    return this.page(normalizeFilter(o.filter, 'options.filter', 'jobs'), o, 'options');
  }

  /** Number of jobs matching `filter` (all jobs when omitted), with the same filter as `list`. */
  async count(filter: JobFilter = {}): Promise<number> {
    const spec = normalizeFilter(filter, 'filter', 'jobs');
    return this.run(() => jobCount(this.ctx.db, this.ctx.t, spec));
  }

  /**
   * The queue's groups in key order, keyset-paginated (`limit` 1–1000, default 50; pass `nextCursor` back
   * as `cursor`), each with its job count, FIFO head, and whether it is blocked and by which job: one in
   * flight, or one that failed and waits for its retry. Reads the groups table and a few index probes per
   * group, never the whole job table.
   */
  async listGroups(page: PageOptions = {}): Promise<Page<GroupInfo>> {
    return listGroups(this.ctx, page, 'page');
  }

  /** One group, described as in listGroups (head, blocker, next job, state, why); null when it has no job. */
  async group(groupKey: string): Promise<GroupInfo | null> {
    return getGroup(this.ctx, this.groupKey(groupKey));
  }

  /**
   * Why the job is or is not running: every reason in order (queue paused; its own state; what holds its
   * group, and that job's reasons; no live worker), read at one database time. A job that left the queue
   * for the dead-letter table is explained as such; null when it is in neither.
   */
  async why(id: IdInput): Promise<JobExplanation<T> | null> {
    return explainJob<T>(this.ctx, toJobId(id));
  }

  /** Per parent id: its children still in the queue and how many are suspended. Parents with none are absent. */
  async countChildren(parentIds: readonly IdInput[]): Promise<Map<JobId, ChildCounts>> {
    const ids = toJobIds(parentIds, 'parentIds');
    if (ids.length === 0) return new Map();
    const rows = await this.run(() => jobCountChildren(this.ctx.db, this.ctx.t, ids));
    return new Map(rows.map((r) => [r.parent_id, { total: Number(r.total), paused: Number(r.paused) }]));
  }

  /** Per parent id: its children in the dead-letter table. Parents with none are absent. */
  async countDeadChildren(parentIds: readonly IdInput[]): Promise<Map<JobId, number>> {
    const ids = toJobIds(parentIds, 'parentIds');
    if (ids.length === 0) return new Map();
    const rows = await this.run(() => jobCountDeadChildren(this.ctx.db, this.ctx.t, ids));
    return new Map(rows.map((r) => [r.parent_id, Number(r.n)]));
  }

  /**
   * Figures for dashboards that refresh often, cheap on a queue of any size: total, claimable (due
   * ungrouped jobs plus one head per ready group), in flight, dead letters, groups and the oldest
   * claimable age. Each reads at most `cap` + 1 entries (default 10,000) of an index the claim uses
   * anyway, so it never scans the table. Past the cap, the job, dead-letter and group totals are the
   * planner's estimates and the others lower bounds; each figure says which (`kind`). Scheduled,
   * retrying and suspended jobs cannot be counted that way: stats() counts everything exactly, in one
   * full scan.
   */
  async overview(options: OverviewOptions = {}): Promise<QueueOverview> {
    return readQueueOverview(this.ctx, overviewCap(options));
  }

  /**
   * Exact counts by status in one pass over the whole job table (a full scan: fine for scripts and the
   * CLI, too slow to repeat every few seconds on a large queue; dashboards use overview()).
   * `ready`: claimable now apart from group serialization; `suspended`: every suspended job, including
   * parents waiting for children; `dead`: rows in the dead-letter table; `groups`: group keys with live
   * jobs; `oldestReadyAgeSeconds`: how long the longest-due ready job waited.
   */
  async stats(): Promise<QueueStats> {
    const r = await this.run(() => jobStats(this.ctx.db, this.ctx.t));
    return {
      total: Number(r.total),
      ready: Number(r.ready),
      inFlight: Number(r.in_flight),
      scheduled: Number(r.scheduled),
      retrying: Number(r.retrying),
      suspended: Number(r.suspended),
      dead: Number(r.dead),
      groups: Number(r.groups),
      oldestReadyAgeSeconds: r.oldest_ready_age === null ? null : Math.max(0, r.oldest_ready_age),
    };
  }

  /** Jobs claimable now, counting every ready job of a group, not only its head. */
  async depth(): Promise<number> {
    return this.run(() => jobDepth(this.ctx.db, this.ctx.t));
  }

  // ---------------------------------------------------------------- actions

  /**
   * Deletes a job. Returns 0 when it has children (use cancelCascade) or is gone. A job in flight may be
   * cancelled: its worker's later ack or retry is fenced off. When the job was the last child of a waiting
   * parent, the parent is woken for its completion round.
   */
  async cancel(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() => this.ctx.db.transaction((tx) => jobCancelMany(tx, this.ctx.t, [jobId])));
  }

  /**
   * cancel for many jobs in one transaction. Whether a job has children is judged before the call, so a
   * parent listed with all its children is not deleted (it is woken instead). Returns how many were deleted.
   */
  async cancelMany(ids: readonly IdInput[]): Promise<number> {
    const jobIds = toJobIds(ids, 'ids', LIMITS.maxBatch);
    if (jobIds.length === 0) return 0;
    return this.run(() => this.ctx.db.transaction((tx) => jobCancelMany(tx, this.ctx.t, jobIds)));
  }

  /** Deletes a job and all its descendants; wakes its parent when it was the last child. Returns rows deleted. */
  async cancelCascade(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() =>
      this.ctx.db.transaction(async (tx) => (await jobCancelCascade(tx, this.ctx.t, jobId, true)).deleted),
    );
  }

  /** Deletes the whole tree containing the job (its root and every descendant). Returns rows deleted. */
  async cancelTree(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() =>
      this.ctx.db.transaction(async (tx) => {
        const root = await jobTreeRoot(tx, this.ctx.t, jobId);
        if (root === null) return 0;
        return (await jobCancelCascade(tx, this.ctx.t, root, false)).deleted;
      }),
    );
  }

  /** Makes a delayed or retrying job claimable now. 0 when in flight, suspended, already due or gone. */
  async promote(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() => jobPromote(this.ctx.db, this.ctx.t, jobId));
  }

  /** Makes a job unclaimable until resumed. 0 when in flight, already suspended or gone. */
  async suspend(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() => jobSuspend(this.ctx.db, this.ctx.t, jobId));
  }

  /** Lifts a suspension. 0 when not suspended, gone, or a parent still waiting for its children. */
  async resume(id: IdInput): Promise<number> {
    const jobId = toJobId(id);
    return this.run(() => jobResume(this.ctx.db, this.ctx.t, jobId));
  }

  /**
   * promote for many jobs in one transaction (at most 10,000 ids). Jobs the action does not apply to
   * (in flight, suspended, already due, gone) are skipped. Returns how many were promoted.
   */
  async promoteMany(ids: readonly IdInput[]): Promise<number> {
    return this.many('promote', ids);
  }

  /** suspend for many jobs in one transaction; in-flight and already suspended ones are skipped. */
  async suspendMany(ids: readonly IdInput[]): Promise<number> {
    return this.many('suspend', ids);
  }

  /** resume for many jobs in one transaction; jobs not suspended and waiting parents are skipped. */
  async resumeMany(ids: readonly IdInput[]): Promise<number> {
    return this.many('resume', ids);
  }

  /** Suspends a parent's children that are not suspended or in flight. Returns how many were paused. */
  async pauseChildren(parentId: IdInput): Promise<number> {
    const id = toJobId(parentId, 'parentId');
    return this.run(() => jobPauseChildren(this.ctx.db, this.ctx.t, id));
  }

  /** Resumes a parent's suspended children (not those waiting for children of their own). */
  async resumeChildren(parentId: IdInput): Promise<number> {
    const id = toJobId(parentId, 'parentId');
    return this.run(() => jobResumeChildren(this.ctx.db, this.ctx.t, id));
  }

  /**
   * Recomputes the groups table from the jobs, repairing any drift, a page of groups at a time and
   * without holding off claims or enqueues (a group in use at that moment is left as its user keeps it).
   * Returns false when skipped because the previous refresh started less than `minIntervalMs` (default 0)
   * ago.
   */
  async refreshGroups(options: RefreshGroupsOptions = {}): Promise<boolean> {
    const o = checkOptions<RefreshGroupsOptions>(options, 'options', ['minIntervalMs']);
    const minIntervalMs =
      o.minIntervalMs === undefined
        ? 0
        : durationMs(o.minIntervalMs, 'options.minIntervalMs', LIMITS.maxDelayMs);
    const ran = await this.run(() => groupRefresh(this.ctx.db, this.ctx.t, minIntervalMs));
    if (ran === null) throw new QueueNotFoundError(this.ctx.t.schema, this.ctx.t.queue);
    return ran;
  }

  // ---------------------------------------------------------------- helpers

  private async page(spec: FilterSpec, o: PageOptions, field: string): Promise<Page<Job<T>>> {
    const req = pageRequest(o, field);
    // One row more than asked tells whether another page exists, so the last page has no cursor.
    const rows = await this.run(() => jobList(this.ctx.db, this.ctx.t, spec, req.beforeId, req.limit + 1));
    const items = rows.slice(0, req.limit).map((r) => this.job(r));
    const last = items[items.length - 1];
    const nextCursor = rows.length > req.limit && last ? encodeCursor(JOB_CURSOR_KIND, [last.id]) : null;
    return { items, nextCursor };
  }

  private async many(action: 'promote' | 'suspend' | 'resume', ids: readonly IdInput[]): Promise<number> {
    const jobIds = toJobIds(ids, 'ids', LIMITS.maxBatch);
    if (jobIds.length === 0) return 0;
    return this.run(() =>
      this.ctx.db.transaction(async (tx) => {
        await lockForDelete(tx, this.ctx.t, jobIds);
        return jobActMany(tx, this.ctx.t, action, jobIds);
      }),
    );
  }

  private groupKey(value: unknown): string {
    const key = optionalKey(value, 'groupKey');
    if (key === null) throw new ValidationError('groupKey', value, 'must be a non-empty string');
    return key;
  }

  private job(row: JobRow): Job<T> {
    return toJob<T>(this.ctx.name, row);
  }

  private run<R>(fn: () => Promise<R>): Promise<R> {
    return withTranslation(this.ctx, fn);
  }
}
