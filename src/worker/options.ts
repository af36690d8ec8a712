import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { StoreHost } from '../store/host.js';
import { checkCron, checkMissedPolicy } from '../core/cron.js';
import { validateQueueName } from '../core/identifiers.js';
import {
  LIMITS,
  checkOptions,
  durationMs,
  isPlainObject,
  optionalBool,
  optionalInt,
} from '../core/validate.js';
import { ValidationError } from '../errors.js';
import type { EnqueueOptions } from '../types.js';
import { resolveQueue, type QueueConfig, type ResolvedQueue } from './queue-options.js';

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
  /**
   * Ticks missed while no worker ran: `once` (default) fires the latest, `skip` none (a tick is fired only
   * within a minute of its time), `catch-up` up to `catchUpMax` of the latest, oldest first.
   */
  missed?: 'skip' | 'once' | 'catch-up';
  /** With `missed: 'catch-up'`: the most ticks fired after downtime, 1 to 1,000. Default 10. */
  catchUpMax?: number;
}

export interface WorkerOptions<P extends Record<string, unknown> = Record<string, unknown>> {
  /** The Arbiter whose queues the worker serves. */
  arbiter: StoreHost;
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
  /**
   * Connection string for the LISTEN and leader connections, e.g. PostgreSQL itself when the Arbiter's pool
   * goes through PgBouncer. Default: they are opened like the Arbiter pool's connections.
   */
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
  /**
   * Fire the schedules added at runtime (arbiter.cron) too, not only this worker's `cron`. Default true;
   * it costs one small read of `_cron` per check.
   */
  runtimeCron?: boolean;
}

export interface ResolvedCron {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  overlap: 'skip' | 'allow';
  payload: CronSchedule['payload'];
  enqueueOptions: CronSchedule['enqueueOptions'];
  missed: 'skip' | 'once' | 'catch-up';
  catchUpMax: number;
}

export interface ResolvedOptions {
  arbiter: StoreHost;
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
  runtimeCron: boolean;
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
  'runtimeCron',
] as const;
const CRON_KEYS = [
  'name',
  'queue',
  'pattern',
  'tz',
  'payload',
  'overlap',
  'enqueueOptions',
  'missed',
  'catchUpMax',
] as const;

const HOUR = 3600 * 1000;

function ms(value: unknown, field: string, fallback: number, min = 1, max = 7 * 24 * HOUR): number {
  return value === undefined ? fallback : durationMs(value, field, max, min);
}

/** Validates every option once and fills in defaults. */
export function resolveOptions(raw: WorkerOptions): ResolvedOptions {
  const o = checkOptions<WorkerOptions>(raw, 'options', WORKER_KEYS);
  if (!o.arbiter || typeof o.arbiter !== 'object' || typeof o.arbiter.store !== 'function') {
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
    const { missed, catchUpMax } = checkMissedPolicy(s.missed, s.catchUpMax, f);
    return {
      name: s.name,
      queue: s.queue!,
      pattern: s.pattern!,
      tz,
      overlap,
      payload: s.payload,
      enqueueOptions: s.enqueueOptions,
      missed,
      catchUpMax,
    };
  });
  return {
    arbiter: o.arbiter,
    queues,
    concurrency,
    workerId,
    pollIntervalMs: ms(o.pollIntervalMs, 'options.pollIntervalMs', 1_000, 10),
    listen: optionalBool(o.listen, 'options.listen', true),
    connectionString: o.connectionString,
    listenerCheckIntervalMs: ms(o.listenerCheckIntervalMs, 'options.listenerCheckIntervalMs', 5_000, 10),
    listenerCheckTimeoutMs: ms(o.listenerCheckTimeoutMs, 'options.listenerCheckTimeoutMs', 2_000, 10),
    triggerCheckIntervalMs: ms(o.triggerCheckIntervalMs, 'options.triggerCheckIntervalMs', 60_000, 10),
    heartbeatIntervalMs,
    deadWorkerThresholdMs,
    maintenance: optionalBool(o.maintenance, 'options.maintenance', true),
    maintenanceIntervalMs: ms(o.maintenanceIntervalMs, 'options.maintenanceIntervalMs', 5_000, 10),
    staleMaxAgeMs: ms(o.staleMaxAgeMs, 'options.staleMaxAgeMs', 24 * HOUR, 1, LIMITS.maxDelayMs),
    shutdownTimeoutMs: ms(o.shutdownTimeoutMs, 'options.shutdownTimeoutMs', 30_000, 0),
    handleSignals: optionalBool(o.handleSignals, 'options.handleSignals', true),
    completionFlushMs: ms(o.completionFlushMs, 'options.completionFlushMs', 5, 0, 10_000),
    reservedConnections: optionalInt(o.reservedConnections, 'options.reservedConnections', 0, 100, 2),
    errorIntervalMs: ms(o.errorIntervalMs, 'options.errorIntervalMs', 1_000, 0, 3_600_000),
    waitForQueues: optionalBool(o.waitForQueues, 'options.waitForQueues', false),
    cron,
    cronCheckIntervalMs: ms(o.cronCheckIntervalMs, 'options.cronCheckIntervalMs', 1_000, 10),
    runtimeCron: optionalBool(o.runtimeCron, 'options.runtimeCron', true),
  };
}
