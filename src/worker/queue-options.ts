import { DEFAULT_BACKOFF, checkBackoff, type BackoffOptions } from '../core/backoff.js';
import type { Outcome } from '../core/outcome.js';
import { isStandardSchema, type StandardSchemaV1 } from '../core/standard-schema.js';
import { validateQueueName } from '../core/identifiers.js';
import {
  DEFAULT_LEASE_MS,
  LIMITS,
  checkOptions,
  durationMs,
  intInRange,
  optionalBool,
  optionalInt,
} from '../core/validate.js';
import { ValidationError } from '../errors.js';
import type { ChildOutcome, EnqueueOptions, Job, JobId } from '../types.js';

/** What a handler gets besides its job. */
export interface JobContext {
  /** Aborted on timeout, on lease loss (stolen job) and on forced shutdown. `signal.reason` says why. */
  readonly signal: AbortSignal;
  readonly workerId: string;
  /** Extends this job's lease to `leaseMs` from now (default: the queue's lease). False when the lease is lost. */
  extendLease(leaseMs?: number): Promise<boolean>;
  /** For a rollup parent's completion round: each child's result or error (dead-lettered child). */
  readonly children: ReadonlyMap<JobId, ChildOutcome>;
  /**
   * Reports progress: a finite number (e.g. a percentage) or a plain object, at most 4 KiB as JSON. Shown
   * live in the admin API, CLI and dashboard. Written at most once per second per job (the last value when
   * the handler ends), fenced: a stale attempt writes nothing. Throws ValidationError on bad input.
   */
  progress(value: number | Record<string, unknown>): void;
  /** Merges `patch` into the job's reported metadata (this attempt's patches: at most 64 KiB as JSON). */
  setMeta(patch: Record<string, unknown>): void;
  /** Appends a log line to the job's history: cut to 2,048 bytes; the newest 200 lines are kept. */
  log(message: string): void;
  /**
   * A durable step: runs `fn` once and stores its JSON result; a later run of this job (a retry, a re-run
   * after a crash, a wake-up) returns the stored result instead of running `fn` again. The result comes
   * back as stored (a JSON round trip) on every run. Step names are unique within a job
   * (DuplicateStepError). The write is fenced: an attempt that lost the job records nothing.
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>>;
  /** Ends this run and runs the job again in `ms` (from the first call), holding no slot and spending no attempt. */
  sleep(ms: number): Promise<void>;
  /** Like sleep, until `at`. */
  sleepUntil(at: Date): Promise<void>;
  /**
   * Parks the job (no slot, no attempt spent) until `arbiter.emit(event, payload)` (or the event was
   * emitted already: events are latched by name), then returns the payload on the next run. With
   * `timeoutMs`, throws WaitTimeoutError once it passes without the event.
   */
  waitFor<T = unknown>(event: string, options?: { timeoutMs?: number }): Promise<T>;
  /**
   * Enqueues a job on `queue` (any queue) and returns its result once it finished, parking this job
   * meanwhile; throws AwaitedJobFailedError when it was dead-lettered, WaitTimeoutError past `timeoutMs`.
   * Enqueued once (recorded like a step in the same transaction); its outcome is stored like a step's.
   */
  run<R = unknown>(
    queue: string,
    payload: unknown,
    options?: { timeoutMs?: number; enqueue?: EnqueueOptions },
  ): Promise<R>;
  // Outcome helpers: return one of these from the handler.
  done(result?: unknown): Outcome;
  keep(result?: unknown): Outcome;
  retryAfter(delayMs: number, error?: string): Outcome;
  retryAt(at: Date, error?: string): Outcome;
  remove(): Outcome;
  fail(error: unknown): Outcome;
  snooze(delayMs: number): Outcome;
}

/** Batched mode context: one signal for the whole batch. */
export type BatchContext = Omit<
  JobContext,
  | 'children'
  | 'extendLease'
  | 'progress'
  | 'setMeta'
  | 'log'
  | 'step'
  | 'sleep'
  | 'sleepUntil'
  | 'waitFor'
  | 'run'
> & {
  extendLease(leaseMs?: number): Promise<boolean>;
  /**
   * A durable step of one job of the batch (`ctx.step` of that job): runs `fn` once and stores its JSON
   * result; a later run of the job returns the stored result instead. Names are per job. A step write
   * fenced off (that job's lease was lost) ends the whole batch's run, as a lost lease does. Batches
   * cannot sleep, wait or ctx.run.
   */
  step<T>(job: Job, name: string, fn: () => T | Promise<T>): Promise<Awaited<T>>;
};

/** A batch handler returns nothing (all done), or one outcome per job: an array in job order or a Map by id. */
export type BatchResult = void | undefined | readonly (Outcome | undefined)[] | ReadonlyMap<JobId, Outcome>;

export interface ErrorInfo {
  /** True when the handler ran past its timeout. */
  timedOut: boolean;
  /** The delay the default policy would use before the next attempt. */
  backoffMs: number;
}

export interface QueueConfig<T = unknown> {
  /** Runs one job. Return normally (or `ctx.done(result)`) when done, or return another outcome. */
  handler?: (job: Job<T>, ctx: JobContext) => unknown;
  /** Batched mode: receives up to `batchSize` jobs of one group (or ungrouped) at once. */
  batchHandler?: (jobs: Job<T>[], ctx: BatchContext) => BatchResult | Promise<BatchResult>;
  /** Jobs per batch in batched mode, 1–1,000. Default 10. */
  batchSize?: number;
  /** Jobs (or batches) of this queue running at once. Default: the worker's concurrency. */
  concurrency?: number;
  /** Maximum run time per attempt in ms, or a function of the job; 0 = none. Default 0. `job.meta.timeoutMs` overrides. */
  timeoutMs?: number | ((job: Job<T>) => number | undefined);
  /** Lease (visibility timeout) in ms; heartbeats extend it every leaseMs/3. Default 30,000. */
  leaseMs?: number;
  /** Delay between attempts after an exception. Default exponential 1 s × 2^n, capped at 24 h. */
  backoff?: BackoffOptions;
  /** Caps attempts below the job's own maxAttempts (enqueue option). Default: the job's own. */
  maxAttempts?: number;
  /** Maps an exception to an outcome; return undefined for the default (retry with backoff, then DLQ). */
  onError?: (
    error: unknown,
    job: Job<T>,
    info: ErrorInfo,
  ) => Outcome | undefined | Promise<Outcome | undefined>;
  /** Standard Schema for the payload: a job whose payload fails validation is dead-lettered, never run. */
  schema?: StandardSchemaV1<unknown, T>;
  /** Keep finished jobs as processed (history table with finish time and result) instead of deleting. Default false. */
  keepProcessed?: boolean;
  /**
   * Most jobs (or batches) claimed ahead of free slots, so a finished handler's slot is refilled from
   * memory while the next claim is under way. Adaptive below this cap: about one second of the queue's
   * recent throughput (at most a quarter of the lease), so slow handlers prefetch next to nothing.
   * 0 = claim only for free slots. Default 1,000.
   */
  prefetch?: number;
  /**
   * This queue's share of the worker's slots while other queues have work too: each queue with work gets
   * slot time in proportion to its weight (1–1,000), within its own `concurrency`. Default 1 (equal shares).
   */
  weight?: number;
  /**
   * Lower goes first across queues, like a job's priority within a queue (−32768…32767). While a queue
   * with a lower value has work, the queues with higher values get a tenth of the slot time between them,
   * so they are slowed, never stopped. Default 0.
   */
  priority?: number;
}

export interface ResolvedQueue {
  name: string;
  handler: QueueConfig['handler'] | undefined;
  batchHandler: QueueConfig['batchHandler'] | undefined;
  batchSize: number;
  concurrency: number;
  timeoutMs: QueueConfig['timeoutMs'];
  leaseMs: number;
  backoff: BackoffOptions;
  maxAttempts: number | undefined;
  onError: QueueConfig['onError'];
  schema: StandardSchemaV1 | undefined;
  keepProcessed: boolean;
  prefetch: number;
  weight: number;
  priority: number;
}

const QUEUE_KEYS = [
  'handler',
  'batchHandler',
  'batchSize',
  'concurrency',
  'timeoutMs',
  'leaseMs',
  'backoff',
  'maxAttempts',
  'onError',
  'schema',
  'keepProcessed',
  'prefetch',
  'weight',
  'priority',
] as const;

/** Validates one queue's options and fills in defaults. */
export function resolveQueue(name: string, raw: unknown, workerConcurrency: number): ResolvedQueue {
  validateQueueName(name, `options.queues.${name}`);
  const f = `options.queues.${name}`;
  const c = checkOptions<QueueConfig>(raw, f, QUEUE_KEYS);
  if ((c.handler === undefined) === (c.batchHandler === undefined)) {
    throw new ValidationError(f, raw, 'give exactly one of handler or batchHandler');
  }
  for (const key of ['handler', 'batchHandler', 'onError'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'function') {
      throw new ValidationError(`${f}.${key}`, c[key], 'must be a function');
    }
  }
  if (c.batchSize !== undefined && c.batchHandler === undefined) {
    throw new ValidationError(`${f}.batchSize`, c.batchSize, 'only applies with batchHandler');
  }
  if (c.timeoutMs !== undefined && typeof c.timeoutMs !== 'function')
    durationMs(c.timeoutMs, `${f}.timeoutMs`, LIMITS.maxDelayMs);
  if (c.schema !== undefined && !isStandardSchema(c.schema)) {
    throw new ValidationError(`${f}.schema`, c.schema, 'must implement Standard Schema (~standard.validate)');
  }
  return {
    name,
    handler: c.handler,
    batchHandler: c.batchHandler,
    batchSize: optionalInt(c.batchSize, `${f}.batchSize`, 1, 1000, 10),
    concurrency: optionalInt(c.concurrency, `${f}.concurrency`, 1, 10_000, workerConcurrency),
    timeoutMs: c.timeoutMs,
    leaseMs:
      c.leaseMs === undefined
        ? DEFAULT_LEASE_MS
        : durationMs(c.leaseMs, `${f}.leaseMs`, LIMITS.maxLeaseMs, LIMITS.minWorkerLeaseMs),
    backoff: c.backoff === undefined ? DEFAULT_BACKOFF : checkBackoff(c.backoff, `${f}.backoff`),
    maxAttempts:
      c.maxAttempts === undefined
        ? undefined
        : intInRange(c.maxAttempts, `${f}.maxAttempts`, 1, LIMITS.maxAttempts),
    onError: c.onError as QueueConfig['onError'],
    schema: c.schema,
    keepProcessed: optionalBool(c.keepProcessed, `${f}.keepProcessed`, false),
    prefetch: optionalInt(c.prefetch, `${f}.prefetch`, 0, 10_000, 1_000),
    weight: optionalInt(c.weight, `${f}.weight`, 1, 1_000, 1),
    priority: optionalInt(c.priority, `${f}.priority`, LIMITS.minPriority, LIMITS.maxPriority, 0),
  };
}

/** The run-time limit for one job: job.meta.timeoutMs, else the queue's (number or function); 0 = none. */
export function jobTimeout(q: ResolvedQueue, job: Job): number {
  const meta = job.meta?.timeoutMs;
  if (typeof meta === 'number' && Number.isFinite(meta) && meta > 0) return meta;
  const t = typeof q.timeoutMs === 'function' ? q.timeoutMs(job) : q.timeoutMs;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : 0;
}
