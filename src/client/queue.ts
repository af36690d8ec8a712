import { toFence, truncateError } from '../core/fence.js';
import { encodePayload } from '../core/payload.js';
import {
  DEFAULT_LEASE_MS,
  LIMITS,
  batchArray,
  checkOptions,
  durationMs,
  intInRange,
  requiredString,
} from '../core/validate.js';
import { toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import type { JobInsert } from '../db/queries/job-insert.js';
import { toJob, type JobRow } from '../db/rows.js';
import type { QueueTables } from '../db/sql.js';
import { ValidationError } from '../errors.js';
import { JobStore } from '../store/job-store.js';
import type {
  ClaimBatchedOptions,
  ClaimOptions,
  EnqueueOptions,
  Job,
  JobId,
  JobRef,
  LeaseUpdate,
} from '../types.js';
import { DeadLetters } from './dead-letters.js';
import { JobsAdmin } from './jobs.js';
import type { QueueContext } from './context.js';
import { Results } from './results.js';
import { toJobInsert } from '../store/enqueue-options.js';
import { insertTree, type TreeNode, type InsertedTree } from './tree.js';
import { awaitJobResult, awaitable, type AwaitableJob } from './awaitable.js';
import { insertTracked } from './tracked-enqueue.js';
import {
  DEFAULT_RESULT_RETAIN_MS,
  isTracked,
  toDependencies,
  toFailurePolicy,
  toResultRetention,
} from '../core/tracking.js';

export interface EnqueueCallOptions extends EnqueueOptions {
  /** Run inside the caller's transaction: a pg client (or any Executor) already in BEGIN. */
  tx?: ExecutorSource;
}

/**
 * What `enqueue` returns: with `result` asked for, the job with `result()` to await it; otherwise the job,
 * or null when a dedup key made the enqueue skip.
 */
export type EnqueueReturn<T, R, O> = O extends { result: true | { retainMs?: number } }
  ? AwaitableJob<T, R>
  : Job<T> | null;

/** One job of `enqueueMany`: its payload and its EnqueueOptions. */
export type EnqueueItem<T> = { payload: T } & EnqueueOptions;

/**
 * A typed handle on one queue. Creating it does no I/O; `Arbiter.createQueue` creates the tables.
 * Every method validates its input before touching the database and throws typed errors.
 */
export class Queue<T = unknown, R = unknown> {
  /** Inspection and operator actions on live jobs: list, filter, get, cancel, promote, suspend… */
  readonly jobs: JobsAdmin<T>;
  /** The dead-letter table: move jobs in, list, retry, delete. */
  readonly dlq: DeadLetters<T>;
  /** Child results of job trees, for rollup finalizers. */
  readonly results: Results;

  /** @internal The trusted operations this handle validates its input for. */
  readonly store: JobStore;

  constructor(protected readonly ctx: QueueContext) {
    this.store = new JobStore(ctx.db, ctx.t, ctx.schemaCheck);
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
  using(source: ExecutorSource): Queue<T, R> {
    return new Queue<T, R>({ ...this.ctx, db: toExecutor(source, this.executorOptions()) });
  }

  private storeFor(tx?: ExecutorSource): JobStore {
    return tx === undefined ? this.store : this.store.using(toExecutor(tx, this.executorOptions()));
  }

  /** A pg client given as `tx` is used as the Arbiter's own connections are (prepared statements or not). */
  protected executorOptions(): { preparedStatements: boolean } {
    return { preparedStatements: this.ctx.db.preparedStatements !== false };
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
  async enqueue<O extends EnqueueCallOptions = EnqueueCallOptions>(
    payload: T,
    options?: O,
  ): Promise<EnqueueReturn<T, R, O>> {
    return (await this.enqueueAny(payload, options ?? {})) as EnqueueReturn<T, R, O>;
  }

  private async enqueueAny(
    payload: T,
    options: EnqueueCallOptions,
  ): Promise<Job<T> | AwaitableJob<T, R> | null> {
    const row = toJobInsert(payload, options, this.ctx.maxPayloadBytes, 'options', { tracked: true });
    const retainMs = toResultRetention(options.result, 'options.result');
    if (retainMs !== null || (options.dependsOn ?? null) !== null) {
      return this.enqueueTracked(row, options, retainMs);
    }
    const stored = await this.storeFor(options.tx).insert(row);
    if (stored === null) return null;
    if (stored.inserted) this.ctx.enqueued?.(this.ctx.name, 1);
    // Only a controlled enqueue says what it did: a plain one keeps returning the job exactly as stored.
    if ((row.control ?? null) === null && (row.cap ?? null) === null) return this.job(stored.row);
    return { ...this.job(stored.row), enqueueOutcome: stored.outcome };
  }

  /**
   * A single enqueue with `result` or `dependsOn`, in one transaction (a savepoint in the caller's):
   * dependencies resolved and locked, the job inserted (suspended while it waits), its record and edges.
   */
  private async enqueueTracked(
    row: JobInsert,
    options: EnqueueCallOptions,
    retainMs: number | null,
  ): Promise<Job<T> | AwaitableJob<T, R>> {
    const deps = toDependencies(options.dependsOn, 'options.dependsOn', this.ctx.name);
    const policy = toFailurePolicy(options.onDependencyFailure, 'options.onDependencyFailure');
    const store = this.storeFor(options.tx);
    const inserted = await store.write(
      'enqueue',
      () =>
        store.db.transaction((tx) =>
          insertTracked(store, tx, row, {
            deps,
            policy,
            retainMs: retainMs ?? DEFAULT_RESULT_RETAIN_MS,
            result: retainMs !== null,
          }),
        ),
      { parentId: row.parentId },
    );
    this.ctx.enqueued?.(this.ctx.name, 1);
    const job = this.job(inserted);
    // Suspended because it waits for its dependencies: what a read reports as waiting.
    if (deps.length > 0 && inserted.suspended && row.suspended === false) job.status = 'waiting';
    return retainMs === null ? job : awaitable<T, R>(this.ctx, job);
  }

  /**
   * Waits for job `id` (enqueued with `result`, a flow node, or a dependency) to finish, from any process:
   * resolves with its result, rejects with JobFailedError (dead-lettered or cancelled), ResultTimeoutError
   * (not finished within `timeoutMs`, default 60 s) or ResultNotFoundError (no record of it).
   */
  awaitResult(id: JobId | number | bigint, options: { timeoutMs?: number } = {}): Promise<R> {
    return awaitJobResult<R>(this.ctx, id, options);
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
      return toJobInsert(payload, opts, this.ctx.maxPayloadBytes, `items[${i}]`, { single: false });
    });
    const rows = await this.storeFor(options.tx).insertMany(prepared, returning);
    this.ctx.enqueued?.(this.ctx.name, rows.length);
    return rows;
  }

  /**
   * Inserts a parent and its children (recursively) atomically. A node with children is inserted
   * suspended and runs once they have all finished; a rollup node's completion round receives their
   * results. Returns the inserted jobs in the same shape.
   */
  async enqueueTree(root: TreeNode<T>, options: { tx?: ExecutorSource } = {}): Promise<InsertedTree<T>> {
    checkOptions(options, 'options', ['tx']);
    const store = this.storeFor(options.tx);
    const tree = await store.write(
      'enqueueTree',
      () =>
        store.db.transaction((tx) =>
          insertTree<T>(store.using(tx), this.ctx.maxPayloadBytes, root, (r) => this.job(r)),
        ),
      { parentId: null },
    );
    this.ctx.enqueued?.(this.ctx.name, countTree(tree));
    return tree;
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
    const claimed = await this.store.claim({ limit, leaseMs, workerId });
    return claimed as { jobs: Job<T>[]; nextDueMs: number | null };
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
    const claimed = await this.store.claimBatches({ batchSize, maxBatches, leaseMs, workerId });
    return claimed as { batches: Job<T>[][]; nextDueMs: number | null };
  }

  /**
   * Marks a claimed job done (smart ack). Standalone jobs are deleted. A job with children is suspended
   * until they finish. A child's `result` is stored for its parent's rollup, and the last sibling wakes
   * the parent. Returns 1, or 0 when the caller no longer holds the job (its lease was taken over).
   */
  async ack(job: JobRef, options: { result?: unknown } = {}): Promise<number> {
    const o = checkOptions<{ result: unknown }>(options, 'options', ['result']);
    const fence = toFence(job);
    const result = 'result' in o ? encodePayload(o.result, this.ctx.maxPayloadBytes) : null;
    const inTree = (job as { parentId?: unknown }).parentId != null;
    // A tracked job (its meta says so) records its result with the ack.
    const meta = (job as { meta?: Record<string, unknown> | null }).meta;
    if (meta != null && isTracked({ meta }))
      return (await this.store.finishTracked(fence, result, false)) ? 1 : 0;
    return (await this.store.ack(fence, result, inTree)) ? 1 : 0;
  }

  /** Acks several jobs, each with full smart-ack treatment, in one transaction. Returns how many were acked. */
  async ackMany(jobs: readonly JobRef[]): Promise<number> {
    const fences = batchArray(jobs, 'jobs').map((j, i) => toFence(j as JobRef, `jobs[${i}]`));
    return this.store.run(() =>
      this.store.db.transaction(async (tx) => {
        const store = this.store.using(tx);
        const done = new Set(await store.ackBulk(fences));
        let count = done.size;
        // The bulk DELETE already took every standalone job: the rest go straight to the tree path.
        for (const f of fences) if (!done.has(f.id)) count += (await store.ack(f, null, true)) ? 1 : 0;
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
    return this.store.ackBulk(fences);
  }

  /** Sets a held job's lease to `leaseMs` from now. Returns 1, or 0 when the job is no longer ours. */
  async extendLease(job: JobRef, leaseMs: number): Promise<number> {
    const fence = toFence(job);
    const ms = durationMs(leaseMs, 'leaseMs', LIMITS.maxLeaseMs);
    return (await this.store.extendLease(fence, ms)) ? 1 : 0;
  }

  /** Extends several leases at once and reports, per job, updated / acked (gone) / stolen. */
  async extendLeases(jobs: readonly JobRef[], leaseMs: number): Promise<LeaseUpdate[]> {
    const fences = batchArray(jobs, 'jobs').map((j, i) => toFence(j as JobRef, `jobs[${i}]`));
    const ms = durationMs(leaseMs, 'leaseMs', LIMITS.maxLeaseMs);
    return this.store.extendLeases(fences, ms);
  }

  /**
   * Releases a held job for another attempt after `delayMs`, recording `error`. In a group, the group
   * stays blocked until the retry runs, so FIFO holds.
   */
  async retry(job: JobRef, options: { delayMs?: number; error?: string } = {}): Promise<number> {
    const o = checkOptions<{ delayMs: number; error: string }>(options, 'options', ['delayMs', 'error']);
    const fence = toFence(job);
    const delay = o.delayMs === undefined ? 0 : durationMs(o.delayMs, 'options.delayMs', LIMITS.maxDelayMs);
    const error = truncateError(
      o.error === undefined ? 'retry requested' : requiredString(o.error, 'options.error', Infinity),
    );
    return (await this.store.retry(fence, delay, error)) ? 1 : 0;
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
        : durationMs(o.leaseMs, 'options.leaseMs', LIMITS.maxLeaseMs, LIMITS.minClaimLeaseMs),
    workerId:
      o.workerId === undefined || o.workerId === null
        ? null
        : requiredString(o.workerId, 'options.workerId', 200),
  };
}

function countTree(tree: InsertedTree<unknown>): number {
  return tree.children.reduce((n, c) => n + countTree(c), 1);
}
