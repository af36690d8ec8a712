import { toJobId } from '../core/ids.js';
import { encodePayload } from '../core/payload.js';
import {
  LIMITS,
  batchArray,
  checkOptions,
  durationMs,
  intInRange,
  requiredString,
} from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import { isConnectionError, type Executor } from '../db/executor.js';
import { toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import { jobClaim } from '../db/queries/job-claim.js';
import {
  jobAck,
  jobAckBulk,
  jobExtendLease,
  jobExtendLeases,
  jobRetry,
  type Fence,
} from '../db/queries/job-complete.js';
import {
  jobByIdempotencyKey,
  jobInsert,
  jobInsertLocks,
  jobInsertMany,
  sortForInsert,
  type JobInsert,
} from '../db/queries/job-insert.js';
import { toClaimedJob, toJob, type JobRow } from '../db/rows.js';
import type { QueueTables } from '../db/sql.js';
import { OutcomeUnknownError, ValidationError } from '../errors.js';
import type {
  ClaimBatchedOptions,
  ClaimOptions,
  EnqueueOptions,
  Job,
  JobRef,
  LeaseUpdate,
} from '../types.js';
import { DeadLetters } from '../admin/dead-letters.js';
import { JobsAdmin } from '../admin/jobs.js';
import type { QueueContext } from './context.js';
import { Results } from './results.js';
import { EnqueueBatcher } from './enqueue-batcher.js';
import { toJobInsert } from './enqueue-options.js';
import { insertTree, type TreeNode, type InsertedTree } from './tree.js';

export const DEFAULT_LEASE_MS = 30_000;
/** Error messages stored on jobs are cut to this many characters. */
export const MAX_ERROR_LENGTH = 64 * 1024;

export interface EnqueueCallOptions extends EnqueueOptions {
  /** Run inside the caller's transaction: a pg client (or any Executor) already in BEGIN. */
  tx?: ExecutorSource;
}

export type EnqueueItem<T> = { payload: T } & EnqueueOptions;

/**
 * A typed handle on one queue. Creating it does no I/O; `Arbiter.createQueue` creates the tables.
 * Every method validates its input before touching the database and throws typed errors.
 */
export class Queue<T = unknown> {
  /** Inspection and operator actions on live jobs: list, filter, get, cancel, promote, suspend… */
  readonly jobs: JobsAdmin<T>;
  /** The dead-letter table: move jobs in, list, retry, delete. */
  readonly dlq: DeadLetters<T>;
  /** Child results of job trees, for rollup finalizers. */
  readonly results: Results;

  private batcher: EnqueueBatcher | undefined;

  constructor(protected readonly ctx: QueueContext) {
    this.jobs = new JobsAdmin<T>(ctx);
    this.dlq = new DeadLetters<T>(ctx);
    this.results = new Results(ctx);
  }

  get name(): string {
    return this.ctx.name;
  }

  /** @internal */
  get tables(): QueueTables {
    return this.ctx.t;
  }

  /** The same queue, with every operation sent through `source` (e.g. the caller's transaction). */
  using(source: ExecutorSource): Queue<T> {
    return new Queue<T>({ ...this.ctx, db: toExecutor(source) });
  }

  protected db(tx?: ExecutorSource): Executor {
    return tx === undefined ? this.ctx.db : toExecutor(tx);
  }

  protected job(row: JobRow): Job<T> {
    return toJob<T>(this.ctx.name, row);
  }

  // ---------------------------------------------------------------- enqueue

  /**
   * Adds one job. Returns the job, or null when a dedup key made it skip (ignore mode, or replace mode
   * against a job in flight on a run that has not failed). With an idempotency key held by a live job,
   * returns that job instead of inserting.
   */
  async enqueue(payload: T, options: EnqueueCallOptions = {}): Promise<Job<T> | null> {
    const row = toJobInsert(payload, options, this.ctx.maxPayloadBytes);
    const db = this.db(options.tx);
    return withTranslation(
      this.ctx,
      async () => {
        const inserted = await guardCommit('enqueue', db, () =>
          options.tx === undefined && !db.pinned && EnqueueBatcher.eligible(row)
            ? (this.batcher ??= new EnqueueBatcher(db, this.ctx.t)).submit(row)
            : jobInsert(db, this.ctx.t, row),
        );
        if (inserted) {
          this.ctx.enqueued?.(this.ctx.name, 1);
          return this.job(inserted);
        }
        if (row.idempotencyKey !== null) {
          const existing = await jobByIdempotencyKey(db, this.ctx.t, row.idempotencyKey);
          if (existing) return this.job(existing);
        }
        return null;
      },
      { parentId: row.parentId },
    );
  }

  /**
   * Adds many jobs in one statement (two when the batch mixes replace-mode dedup with other rows, and
   * one more first, taking the batch's locks in a fixed order, when its rows carry keys).
   * Within the batch the last occurrence of a dedup key wins. Returns only jobs actually inserted or
   * replaced. Parents are not validated here beyond the foreign key; use enqueueTree for trees.
   */
  async enqueueMany(
    items: readonly EnqueueItem<T>[],
    options: { tx?: ExecutorSource } = {},
  ): Promise<Job<T>[]> {
    const rows = await this.insertMany(items, options, true);
    return rows.map((r) => this.job(r));
  }

  /** Like enqueueMany but returns only the number of jobs inserted or replaced (no rows sent back). */
  async enqueueManyCount(
    items: readonly EnqueueItem<T>[],
    options: { tx?: ExecutorSource } = {},
  ): Promise<number> {
    const rows = await this.insertMany(items, options, false);
    return rows.length;
  }

  private async insertMany(
    items: readonly EnqueueItem<T>[],
    options: { tx?: ExecutorSource },
    returning: boolean,
  ): Promise<JobRow[]> {
    checkOptions(options, 'options', ['tx']);
    const list = batchArray(items, 'items');
    const prepared: JobInsert[] = list.map((item, i) => {
      if (item === null || typeof item !== 'object' || !('payload' in item)) {
        throw new ValidationError(`items[${i}]`, item, 'must be an object with a payload');
      }
      const { payload, ...opts } = item as EnqueueItem<T>;
      return toJobInsert(payload, opts, this.ctx.maxPayloadBytes, `items[${i}]`);
    });
    // Last writer wins per dedup key, as if the items had been enqueued one by one.
    const lastIndex = new Map<string, number>();
    prepared.forEach((p, i) => p.dedupKey !== null && lastIndex.set(p.dedupKey, i));
    const kept = prepared.filter((p, i) => p.dedupKey === null || lastIndex.get(p.dedupKey) === i);
    const sorted = sortForInsert(kept);
    const replace = sorted.filter((p) => p.dedupMode === 'replace');
    const others = sorted.filter((p) => p.dedupMode !== 'replace');
    // Rows with keys can wait on another batch's rows: such a batch takes all its locks first, in one
    // order (see jobInsertLocks), which also covers a batch split in two statements.
    const keyed = sorted.some((p) => p.dedupKey !== null || p.idempotencyKey !== null);
    const db = this.db(options.tx);
    return withTranslation(
      this.ctx,
      () =>
        guardCommit('enqueueMany', db, async () => {
          const run = async (ex: Executor) => {
            if (keyed) await jobInsertLocks(ex, this.ctx.t, sorted);
            const a = await jobInsertMany(ex, this.ctx.t, others, null, returning);
            const b = await jobInsertMany(ex, this.ctx.t, replace, 'replace', returning);
            if (returning) return [...a.rows, ...b.rows];
            return new Array<JobRow>(a.count + b.count);
          };
          const rows = await (keyed ? db.transaction(run) : run(db));
          this.ctx.enqueued?.(this.ctx.name, rows.length);
          return rows;
        }),
      { parentId: null },
    );
  }

  /**
   * Inserts a parent and its children (recursively) atomically. A node with children is inserted
   * suspended and runs once they have all finished; a rollup node's completion round receives their
   * results. Returns the inserted jobs in the same shape.
   */
  async enqueueTree(root: TreeNode<T>, options: { tx?: ExecutorSource } = {}): Promise<InsertedTree<T>> {
    checkOptions(options, 'options', ['tx']);
    const db = this.db(options.tx);
    return withTranslation(
      this.ctx,
      () =>
        guardCommit('enqueueTree', db, async () => {
          const tree = await db.transaction((tx) => insertTree<T>(tx, this.ctx, root, (r) => this.job(r)));
          this.ctx.enqueued?.(this.ctx.name, countTree(tree));
          return tree;
        }),
      { parentId: null },
    );
  }

  // ---------------------------------------------------------------- claim and complete

  /**
   * Claims up to `limit` visible jobs: at most one per group (the group's head, FIFO), priority first.
   * Each claimed job is leased for `leaseMs` and its attempt number incremented.
   */
  async claim(options: ClaimOptions = {}): Promise<Job<T>[]> {
    return (await this.claimWithNextDue(options)).jobs;
  }

  /**
   * @internal `claim`, plus when the queue's next scheduled job is due if the claim came back short (see
   * Claim.nextDueMs): what a worker needs to wake on time.
   */
  async claimWithNextDue(options: ClaimOptions = {}): Promise<{ jobs: Job<T>[]; nextDueMs: number | null }> {
    const o = checkOptions<ClaimOptions>(options, 'options', ['limit', 'leaseMs', 'workerId']);
    const limit = o.limit === undefined ? 1 : intInRange(o.limit, 'options.limit', 1, LIMITS.maxBatch);
    const { leaseMs, workerId } = leaseAndWorker(o);
    const { rows, nextDueMs } = await withTranslation(this.ctx, () =>
      jobClaim(this.ctx.db, this.ctx.t, {
        perGroup: 1,
        groups: limit,
        leaseMs,
        workerId,
        standaloneOnly: false,
      }),
    );
    return { jobs: rows.map((r) => toClaimedJob<T>(this.ctx.name, r, leaseMs, workerId)), nextDueMs };
  }

  /**
   * Claims up to `batchSize` jobs from each of up to `maxBatches` groups (ungrouped jobs come in batches
   * of `batchSize` too). Only standalone jobs (no parent) are claimed in this mode, so batches can be
   * acked with ackBulk. Returns one array per batch, each in FIFO order.
   */
  async claimBatched(options: ClaimBatchedOptions): Promise<Job<T>[][]> {
    return (await this.claimBatchedWithNextDue(options)).batches;
  }

  /** @internal `claimBatched`, plus when the next scheduled job is due (as in `claimWithNextDue`). */
  async claimBatchedWithNextDue(
    options: ClaimBatchedOptions,
  ): Promise<{ batches: Job<T>[][]; nextDueMs: number | null }> {
    const o = checkOptions<ClaimBatchedOptions>(options, 'options', [
      'batchSize',
      'maxBatches',
      'leaseMs',
      'workerId',
    ]);
    const batchSize = intInRange(o.batchSize, 'options.batchSize', 1, 1000);
    const maxBatches = intInRange(o.maxBatches, 'options.maxBatches', 1, 1000);
    const { leaseMs, workerId } = leaseAndWorker(o);
    const { rows, nextDueMs } = await withTranslation(this.ctx, () =>
      jobClaim(this.ctx.db, this.ctx.t, {
        perGroup: batchSize,
        groups: maxBatches,
        leaseMs,
        workerId,
        standaloneOnly: true,
      }),
    );
    const groups = new Map<string, Job<T>[]>();
    const loose: Job<T>[] = [];
    for (const r of rows) {
      const job = toClaimedJob<T>(this.ctx.name, r, leaseMs, workerId);
      if (job.groupKey === null) loose.push(job);
      else groups.set(job.groupKey, [...(groups.get(job.groupKey) ?? []), job]);
    }
    const batches = [...groups.values()];
    for (let i = 0; i < loose.length; i += batchSize) batches.push(loose.slice(i, i + batchSize));
    return { batches, nextDueMs };
  }

  /**
   * Marks a claimed job done (smart ack). Standalone jobs are deleted. A job with children is suspended
   * until they finish. A child's `result` is stored for its parent's rollup, and the last sibling wakes
   * the parent. Returns 1, or 0 when the caller no longer holds the job (its lease was taken over).
   */
  async ack(job: JobRef, options: { result?: unknown } = {}): Promise<number> {
    const o = checkOptions<{ result: unknown }>(options, 'options', ['result']);
    const fence = toFence(job);
    const result = 'result' in o ? encodePayload(o.result, this.ctx.maxPayloadBytes) : undefined;
    const inTree = (job as { parentId?: unknown }).parentId != null;
    return withTranslation(this.ctx, () => jobAck(this.ctx.db, this.ctx.t, fence, result, { inTree }));
  }

  /** Acks several jobs, each with full smart-ack treatment, in one transaction. Returns how many were acked. */
  async ackMany(jobs: readonly JobRef[]): Promise<number> {
    const fences = batchArray(jobs, 'jobs').map((j, i) => toFence(j as JobRef, `jobs[${i}]`));
    return withTranslation(this.ctx, () =>
      this.ctx.db.transaction(async (tx) => {
        const done = new Set(await jobAckBulk(tx, this.ctx.t, fences));
        let count = done.size;
        // The bulk DELETE already took every standalone job: the rest go straight to the tree path.
        for (const f of fences)
          if (!done.has(f.id)) count += await jobAck(tx, this.ctx.t, f, undefined, { inTree: true });
        return count;
      }),
    );
  }

  /**
   * Acks standalone jobs (no parent, no children) with a single DELETE: one round trip for all of them.
   * Returns the ids actually deleted; jobs with tree links or lost leases are left alone.
   */
  async ackBulk(jobs: readonly JobRef[]): Promise<string[]> {
    const fences = batchArray(jobs, 'jobs').map((j, i) => toFence(j as JobRef, `jobs[${i}]`));
    return withTranslation(this.ctx, () => jobAckBulk(this.ctx.db, this.ctx.t, fences));
  }

  /** Sets a held job's lease to `leaseMs` from now. Returns 1, or 0 when the job is no longer ours. */
  async extendLease(job: JobRef, leaseMs: number): Promise<number> {
    const fence = toFence(job);
    const ms = durationMs(leaseMs, 'leaseMs', LIMITS.maxLeaseMs);
    return withTranslation(this.ctx, () => jobExtendLease(this.ctx.db, this.ctx.t, fence, ms));
  }

  /** Extends several leases at once and reports, per job, updated / acked (gone) / stolen. */
  async extendLeases(jobs: readonly JobRef[], leaseMs: number): Promise<LeaseUpdate[]> {
    const fences = batchArray(jobs, 'jobs').map((j, i) => toFence(j as JobRef, `jobs[${i}]`));
    const ms = durationMs(leaseMs, 'leaseMs', LIMITS.maxLeaseMs);
    const rows = await withTranslation(this.ctx, () => jobExtendLeases(this.ctx.db, this.ctx.t, fences, ms));
    return rows.map((r) => ({
      id: r.id,
      status: r.updated ? 'updated' : r.current_attempts === null ? 'acked' : 'stolen',
      currentAttempts: r.current_attempts,
    }));
  }

  /**
   * Releases a held job for another attempt after `delayMs`, recording `error` (seed 000
   * updateJobForRetry). In a group, the group stays blocked until the retry runs, so FIFO holds.
   */
  async retry(job: JobRef, options: { delayMs?: number; error?: string } = {}): Promise<number> {
    const o = checkOptions<{ delayMs: number; error: string }>(options, 'options', ['delayMs', 'error']);
    const fence = toFence(job);
    const delay = o.delayMs === undefined ? 0 : durationMs(o.delayMs, 'options.delayMs', LIMITS.maxDelayMs);
    const error = truncateError(
      o.error === undefined ? 'retry requested' : requiredString(o.error, 'options.error', Infinity),
    );
    return withTranslation(this.ctx, () => jobRetry(this.ctx.db, this.ctx.t, fence, delay, error));
  }
}

function leaseAndWorker(o: { leaseMs?: unknown; workerId?: unknown }): {
  leaseMs: number;
  workerId: string | null;
} {
  return {
    leaseMs:
      o.leaseMs === undefined
        ? DEFAULT_LEASE_MS
        : durationMs(o.leaseMs, 'options.leaseMs', LIMITS.maxLeaseMs, 1),
    workerId:
      o.workerId === undefined || o.workerId === null
        ? null
        : requiredString(o.workerId, 'options.workerId', 200),
  };
}

export function toFence(job: JobRef, field = 'job'): Fence {
  if (job === null || typeof job !== 'object')
    throw new ValidationError(field, job, 'must be a job (id and attempts)');
  const attempts = job.attempts;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) {
    throw new ValidationError(
      `${field}.attempts`,
      attempts,
      'must be the positive attempt number the job was claimed at',
    );
  }
  return { id: toJobId(job.id, `${field}.id`), attempts };
}

export function truncateError(message: string): string {
  const clean = message.replaceAll('\u0000', '');
  return clean.length > MAX_ERROR_LENGTH ? clean.slice(0, MAX_ERROR_LENGTH - 1) + '…' : clean;
}

/**
 * A write whose connection dies mid-flight may or may not have committed. Surface that as a typed
 * OutcomeUnknownError (retry with an idempotency key) instead of a generic connection error.
 */
async function guardCommit<R>(operation: string, db: Executor, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (err) {
    if (isConnectionError(err) && !db.pinned) throw new OutcomeUnknownError(operation, err);
    throw err;
  }
}

function countTree(tree: InsertedTree<unknown>): number {
  return tree.children.reduce((n, c) => n + countTree(c), 1);
}
