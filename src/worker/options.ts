import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Arbiter } from '../client/arbiter.js';
import { DEFAULT_BACKOFF, checkBackoff, type BackoffOptions } from '../core/backoff.js';
import { checkCron } from '../core/cron.js';
import type { Outcome } from '../core/outcome.js';
import { isStandardSchema, type StandardSchemaV1 } from '../core/standard-schema.js';
import { validateQueueName } from '../core/identifiers.js';
import {
  LIMITS,
  checkOptions,
  durationMs,
  intInRange,
  isPlainObject,
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
export type BatchContext = Omit<JobContext, 'children' | 'extendLease'> & {
  extendLease(leaseMs?: number): Promise<boolean>;
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
}

export interface CronSchedule {
  /** Unique name of the schedule (one row in `_cron`). */
  name: string;
  queue: string;
  /** 5 fields, or 6 with seconds first. */
  pattern: string;
  /** IANA time zone. Default "UTC". */
  tz?: string;
  /** Payload of each job, or a function of the tick. Default `{}`. */
  payload?: unknown | ((tick: Date) => unknown);
  /** `skip` (default): no new job while the previous tick's job is still queued or running. `allow`: always. */
  overlap?: 'skip' | 'allow';
  /** Options for the enqueued job (priority, groupKey, maxAttempts…). */
  enqueueOptions?: Omit<EnqueueOptions, 'delayMs' | 'runAt' | 'parentId'>;
}

export interface WorkerOptions<P extends Record<string, unknown> = Record<string, unknown>> {
  arbiter: Arbiter;
  queues: { [K in keyof P]: QueueConfig<P[K]> };
  /** Jobs (or batches) running at once across all queues. Default 10. */
  concurrency?: number;
  /** Unique id recorded on claimed jobs and in `_workers`. Default `hostname:pid:random`. */
  workerId?: string;
  /**
   * Polling interval in ms: the floor under LISTEN/NOTIFY. Delayed jobs and retries do not wait for it: a
   * timer wakes the worker when they are due. Default 1,000.
   */
  pollIntervalMs?: number;
  /** LISTEN for wake-ups. false = poll-only (e.g. PgBouncer in transaction mode). Default true. */
  listen?: boolean;
  /** Connection string for the LISTEN and leader connections when the Arbiter was not built from a pool. */
  connectionString?: string;
  /** How often the LISTEN connection is checked (SELECT 1 + pg_listening_channels). Default 5,000. */
  listenerCheckIntervalMs?: number;
  /** A health check slower than this counts as a dead connection. Default 2,000. */
  listenerCheckTimeoutMs?: number;
  /** How often the notify triggers are checked and repaired. Default 60,000. */
  triggerCheckIntervalMs?: number;
  /** Worker registry heartbeat. Default 5,000. */
  heartbeatIntervalMs?: number;
  /** A worker silent this long is presumed dead and its jobs released. Default 15,000. */
  deadWorkerThresholdMs?: number;
  /** Leader-only maintenance (dead workers, stale recovery, exhausted jobs, group refresh). Default true. */
  maintenance?: boolean;
  /** Maintenance interval. Default 5,000. */
  maintenanceIntervalMs?: number;
  /** Stale recovery: jobs claimed longer ago than this are dead-lettered instead of retried. Default 24 h. */
  staleMaxAgeMs?: number;
  /** Graceful shutdown: how long in-flight jobs may run before they are aborted and released. Default 30,000. */
  shutdownTimeoutMs?: number;
  /** Stop gracefully on SIGTERM and SIGINT. Default true. */
  handleSignals?: boolean;
  /** Completions are written in batches: at most this long after the first one waits. Default 5 ms. */
  completionFlushMs?: number;
  /**
   * Connections kept apart from the Arbiter's pool for lease extensions, completions and registry
   * heartbeats, so a pool exhausted by handlers or the application cannot make leases expire. 0 = share
   * the Arbiter's pool. Default 2.
   */
  reservedConnections?: number;
  /**
   * `error` events are rate-limited per context: the first at once, then at most one per this many ms,
   * carrying `suppressed` (how many were left out). 0 = emit every error. Default 1,000.
   */
  errorIntervalMs?: number;
  /**
   * Queues (served or targeted by `cron`) that do not exist make `start()` reject with QueuesNotFoundError.
   * true: start anyway, report them once (`worker:queues-missing`) and serve each as soon as it is
   * created (checked every `pollIntervalMs`, and at once when a job is announced on it). For rolling
   * deploys where another process creates the queues. Default false.
   */
  waitForQueues?: boolean;
  /** Recurring jobs. */
  cron?: CronSchedule[];
  /** How often schedules are checked. Default 1,000 (and never later than a schedule's next tick). */
  cronCheckIntervalMs?: number;
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
}

export interface ResolvedCron {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  overlap: 'skip' | 'allow';
  payload: CronSchedule['payload'];
  enqueueOptions: CronSchedule['enqueueOptions'];
}

export interface ResolvedOptions {
  arbiter: Arbiter;
  queues: ResolvedQueue[];
  concurrency: number;
  workerId: string;
  pollIntervalMs: number;
  listen: boolean;
  connectionString: string | undefined;
  listenerCheckIntervalMs: number;
  listenerCheckTimeoutMs: number;
  triggerCheckIntervalMs: number;
  heartbeatIntervalMs: number;
  deadWorkerThresholdMs: number;
  maintenance: boolean;
  maintenanceIntervalMs: number;
  staleMaxAgeMs: number;
  shutdownTimeoutMs: number;
  handleSignals: boolean;
  completionFlushMs: number;
  reservedConnections: number;
  errorIntervalMs: number;
  waitForQueues: boolean;
  cron: ResolvedCron[];
  cronCheckIntervalMs: number;
}

const WORKER_KEYS = [
  'arbiter',
  'queues',
  'concurrency',
  'workerId',
  'pollIntervalMs',
  'listen',
  'connectionString',
  'listenerCheckIntervalMs',
  'listenerCheckTimeoutMs',
  'triggerCheckIntervalMs',
  'heartbeatIntervalMs',
  'deadWorkerThresholdMs',
  'maintenance',
  'maintenanceIntervalMs',
  'staleMaxAgeMs',
  'shutdownTimeoutMs',
  'handleSignals',
  'completionFlushMs',
  'reservedConnections',
  'errorIntervalMs',
  'waitForQueues',
  'cron',
  'cronCheckIntervalMs',
] as const;
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
] as const;
const CRON_KEYS = ['name', 'queue', 'pattern', 'tz', 'payload', 'overlap', 'enqueueOptions'] as const;

const HOUR = 3600 * 1000;

function ms(value: unknown, field: string, fallback: number, min = 1, max = 7 * 24 * HOUR): number {
  return value === undefined ? fallback : durationMs(value, field, max, min);
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ValidationError(field, value, 'must be a boolean');
  return value;
}

/** Validates every option once and fills in defaults. */
export function resolveOptions(raw: WorkerOptions): ResolvedOptions {
  const o = checkOptions<WorkerOptions>(raw, 'options', WORKER_KEYS);
  if (!o.arbiter || typeof o.arbiter !== 'object' || typeof o.arbiter.queue !== 'function') {
    throw new ValidationError('options.arbiter', o.arbiter, 'must be an Arbiter');
  }
  if (!isPlainObject(o.queues) || Object.keys(o.queues).length === 0) {
    throw new ValidationError('options.queues', o.queues, 'must map at least one queue name to its handler');
  }
  const concurrency = optionalInt(o.concurrency, 'options.concurrency', 1, 10_000, 10);
  const queues = Object.entries(o.queues).map(([name, cfg]) => resolveQueue(name, cfg, concurrency));
  const workerId =
    o.workerId === undefined ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}` : o.workerId;
  if (typeof workerId !== 'string' || workerId.length === 0 || workerId.length > 200) {
    throw new ValidationError('options.workerId', workerId, 'must be a string of 1 to 200 characters');
  }
  const heartbeatIntervalMs = ms(o.heartbeatIntervalMs, 'options.heartbeatIntervalMs', 5_000, 10);
  const deadWorkerThresholdMs = ms(o.deadWorkerThresholdMs, 'options.deadWorkerThresholdMs', 15_000, 10);
  if (deadWorkerThresholdMs <= heartbeatIntervalMs) {
    throw new ValidationError(
      'options.deadWorkerThresholdMs',
      deadWorkerThresholdMs,
      `must be longer than heartbeatIntervalMs (${heartbeatIntervalMs})`,
    );
  }
  if (o.connectionString !== undefined && typeof o.connectionString !== 'string') {
    throw new ValidationError('options.connectionString', o.connectionString, 'must be a postgres:// URL');
  }
  const cronList = o.cron === undefined ? [] : o.cron;
  if (!Array.isArray(cronList)) throw new ValidationError('options.cron', cronList, 'must be an array');
  const names = new Set<string>();
  const cron = cronList.map((c, i) => {
    const f = `options.cron[${i}]`;
    const s = checkOptions<CronSchedule>(c, f, CRON_KEYS);
    if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > 200) {
      throw new ValidationError(`${f}.name`, s.name, 'must be a string of 1 to 200 characters');
    }
    if (names.has(s.name)) throw new ValidationError(`${f}.name`, s.name, 'is used by another schedule');
    names.add(s.name);
    validateQueueName(s.queue, `${f}.queue`);
    const tz = s.tz ?? 'UTC';
    checkCron(s.pattern, tz, f);
    const overlap = s.overlap ?? 'skip';
    if (overlap !== 'skip' && overlap !== 'allow') {
      throw new ValidationError(`${f}.overlap`, overlap, "must be 'skip' or 'allow'");
    }
    return {
      name: s.name,
      queue: s.queue!,
      pattern: s.pattern!,
      tz,
      overlap,
      payload: s.payload,
      enqueueOptions: s.enqueueOptions,
    };
  });
  return {
    arbiter: o.arbiter,
    queues,
    concurrency,
    workerId,
    pollIntervalMs: ms(o.pollIntervalMs, 'options.pollIntervalMs', 1_000, 10),
    listen: bool(o.listen, 'options.listen', true),
    connectionString: o.connectionString,
    listenerCheckIntervalMs: ms(o.listenerCheckIntervalMs, 'options.listenerCheckIntervalMs', 5_000, 10),
    listenerCheckTimeoutMs: ms(o.listenerCheckTimeoutMs, 'options.listenerCheckTimeoutMs', 2_000, 10),
    triggerCheckIntervalMs: ms(o.triggerCheckIntervalMs, 'options.triggerCheckIntervalMs', 60_000, 10),
    heartbeatIntervalMs,
    deadWorkerThresholdMs,
    maintenance: bool(o.maintenance, 'options.maintenance', true),
    maintenanceIntervalMs: ms(o.maintenanceIntervalMs, 'options.maintenanceIntervalMs', 5_000, 10),
    staleMaxAgeMs: ms(o.staleMaxAgeMs, 'options.staleMaxAgeMs', 24 * HOUR, 1, LIMITS.maxDelayMs),
    shutdownTimeoutMs: ms(o.shutdownTimeoutMs, 'options.shutdownTimeoutMs', 30_000, 0),
    handleSignals: bool(o.handleSignals, 'options.handleSignals', true),
    completionFlushMs: ms(o.completionFlushMs, 'options.completionFlushMs', 5, 0, 10_000),
    reservedConnections: optionalInt(o.reservedConnections, 'options.reservedConnections', 0, 100, 2),
    errorIntervalMs: ms(o.errorIntervalMs, 'options.errorIntervalMs', 1_000, 0, 3_600_000),
    waitForQueues: bool(o.waitForQueues, 'options.waitForQueues', false),
    cron,
    cronCheckIntervalMs: ms(o.cronCheckIntervalMs, 'options.cronCheckIntervalMs', 1_000, 10),
  };
}

function resolveQueue(name: string, raw: unknown, workerConcurrency: number): ResolvedQueue {
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
    leaseMs: c.leaseMs === undefined ? 30_000 : durationMs(c.leaseMs, `${f}.leaseMs`, LIMITS.maxLeaseMs, 100),
    backoff: c.backoff === undefined ? DEFAULT_BACKOFF : checkBackoff(c.backoff, `${f}.backoff`),
    maxAttempts:
      c.maxAttempts === undefined
        ? undefined
        : intInRange(c.maxAttempts, `${f}.maxAttempts`, 1, LIMITS.maxAttempts),
    onError: c.onError as QueueConfig['onError'],
    schema: c.schema,
    keepProcessed: bool(c.keepProcessed, `${f}.keepProcessed`, false),
    prefetch: optionalInt(c.prefetch, `${f}.prefetch`, 0, 10_000, 1_000),
  };
}

/** The run-time limit for one job: job.meta.timeoutMs, else the queue's (number or function); 0 = none. */
export function jobTimeout(q: ResolvedQueue, job: Job): number {
  const meta = job.meta?.timeoutMs;
  if (typeof meta === 'number' && Number.isFinite(meta) && meta > 0) return meta;
  const t = typeof q.timeoutMs === 'function' ? q.timeoutMs(job) : q.timeoutMs;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : 0;
}
