import { emitEvent, readEvent, type EmitOptions, type EventsContext } from './events.js';
import type { EventInfo } from '../types.js';
import { CronSchedules } from './cron.js';
import type pg from 'pg';
import { validateQueueName, validateSchemaName } from '../core/identifiers.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.js';
import { LIMITS, checkOptions, intInRange, optionalBool } from '../core/validate.js';
import { DEFAULT_PAGE_SIZE } from '../core/job-filter.js';
import type { EnqueueOptions, Page, PageOptions } from '../types.js';
import type { Executor } from '../db/executor.js';
import {
  currentVersion,
  migrate,
  pendingMigrationSql,
  type MigrateOptions,
  type MigrateResult,
} from '../db/migrate.js';
import { uninstall, type UninstallOptions, type UninstallResult } from '../db/uninstall.js';
import { PoolExecutor, createPool, toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import { SchemaCheck } from '../db/schema-check.js';
import {
  queueCreate,
  queueDrop,
  queueGet,
  queueList,
  queueSetPaused,
  type QueueInfo,
} from '../db/queries/queue.js';
import { workerList, type WorkerInfo } from '../db/queries/worker.js';
import { statsRead, type ControlStat } from '../db/queries/enqueue-controls.js';
import { queueTables } from '../db/sql.js';
import { retentionUpdate } from '../db/queries/retention.js';
import {
  flowLimitsDrop,
  flowLimitsGet,
  flowLimitsSet,
  keyLimitsDrop,
  keyLimitsGet,
  keyLimitsSet,
  keyUsage,
} from '../db/queries/flow.js';
import {
  checkKeyLimitsPatch,
  checkLimitKey,
  checkLimitsPatch,
  type KeyLimits,
  type KeyLimitsPatch,
  type KeyUsage,
  type QueueLimits,
  type QueueLimitsPatch,
} from '../core/flow-limits.js';
import { invalidateFlowLimits } from '../store/flow-cache.js';
import {
  checkRetentionPatch,
  effectiveRetention,
  type Retention,
  type RetentionPatch,
} from '../core/retention.js';
import { QueueNotFoundError, ValidationError } from '../errors.js';
import type { JobStore } from '../store/job-store.js';
import { DeadLettersAcrossQueues } from './dead-letters-across.js';
import { Queue } from './queue.js';
import { search, type SearchOptions, type SearchResult } from './search.js';
import { readStatsHistory, type StatsHistory, type StatsHistoryOptions } from './queue-history.js';
import { ResultWaiter } from './result-waiter.js';
import { Flows, type FlowDefinition, type FlowHandle, type FlowNodes } from './flows.js';

/** Where an Arbiter finds its database (exactly one of connectionString, pool, executor) and its limits. */
export interface ArbiterOptions {
  /** postgres:// URL; Arbiter creates (and closes) its own pool. */
  connectionString?: string;
  /** An existing pg Pool (not closed by Arbiter). */
  pool?: pg.Pool;
  /** Any executor (or pg client) to run every query through. */
  executor?: ExecutorSource;
  /** Schema holding Arbiter's tables. Default `arbiter`. */
  schema?: string;
  /** Largest payload accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Pool size when Arbiter creates the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a new connection when Arbiter creates the pool, in ms. Default 10,000. */
  connectTimeoutMs?: number;
  /**
   * false: never name (prepare) statements, on this Arbiter's connections and on the clients passed as
   * `tx`. For PgBouncer in transaction mode before 1.21 or without `max_prepared_statements`
   * (docs/production.md#pgbouncer). Default true.
   */
  preparedStatements?: boolean;
}

const OPTION_KEYS = [
  'connectionString',
  'pool',
  'executor',
  'schema',
  'maxPayloadBytes',
  'poolSize',
  'connectTimeoutMs',
  'preparedStatements',
] as const;

/** Jobs inserted by one statement (see Arbiter.onEnqueued). */
export interface EnqueuedEvent {
  queue: string;
  count: number;
}

/**
 * Entry point: one database, one schema, any number of queues. Creates, lists, pauses and drops queues,
 * hands out typed queue handles, runs the migrations and lists the registered workers.
 */
export class Arbiter {
  readonly schema: string;
  readonly db: Executor;
  readonly maxPayloadBytes: number;
  private readonly ownedPool: pg.Pool | undefined;
  private readonly queues = new Map<string, Queue<unknown, unknown>>();
  private readonly enqueueListeners = new Set<(event: EnqueuedEvent) => void>();
  private acrossQueues: DeadLettersAcrossQueues | undefined;
  private readonly schemaCheck: SchemaCheck;
  private cronSchedules: CronSchedules | undefined;
  private waiter: ResultWaiter | undefined;
  private flowsFacet: Flows | undefined;

  constructor(options: ArbiterOptions) {
    const o = checkOptions<ArbiterOptions>(options, 'options', OPTION_KEYS);
    const sources = [o.connectionString, o.pool, o.executor].filter((x) => x !== undefined);
    if (sources.length !== 1) {
      throw new ValidationError(
        'options',
        Object.keys(o),
        'give exactly one of connectionString, pool or executor',
      );
    }
    this.schema = validateSchemaName(o.schema ?? 'arbiter', 'options.schema');
    const preparedStatements = optionalBool(o.preparedStatements, 'options.preparedStatements', true);
    this.maxPayloadBytes =
      o.maxPayloadBytes === undefined
        ? DEFAULT_MAX_PAYLOAD_BYTES
        : intInRange(o.maxPayloadBytes, 'options.maxPayloadBytes', 1, 256 * 1024 * 1024);
    if (o.connectionString !== undefined) {
      if (typeof o.connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(o.connectionString)) {
        // Never echo the URL itself: it may carry a password.
        const shown =
          typeof o.connectionString === 'string'
            ? o.connectionString.replace(/\/\/.*@/, '//***@')
            : o.connectionString;
        throw new ValidationError('options.connectionString', shown, 'must be a postgres:// URL');
      }
      const size = o.poolSize === undefined ? 10 : intInRange(o.poolSize, 'options.poolSize', 1, 1000);
      const connectTimeoutMs =
        o.connectTimeoutMs === undefined
          ? 10_000
          : intInRange(o.connectTimeoutMs, 'options.connectTimeoutMs', 1, 600_000);
      this.ownedPool = createPool(o.connectionString, size, connectTimeoutMs);
      this.db = new PoolExecutor(this.ownedPool, { preparedStatements });
    } else {
      for (const key of ['poolSize', 'connectTimeoutMs'] as const) {
        if (o[key] !== undefined) {
          throw new ValidationError(`options.${key}`, o[key], 'only applies with connectionString');
        }
      }
      this.db = toExecutor((o.pool ?? o.executor)!, { preparedStatements });
    }
    this.schemaCheck = new SchemaCheck(this.db, this.schema);
  }

  /** Creates or upgrades Arbiter's schema. Safe to call on every start, from many processes at once. */
  async migrate(options: MigrateOptions = {}): Promise<MigrateResult> {
    const result = await migrate(this.db, this.schema, options);
    this.schemaCheck.passed = true;
    return result;
  }

  /**
   * Resolves when the schema is at the migration this version of Arbiter ships; otherwise rejects with
   * SchemaNotMigratedError (missing, not migrated, or behind: run the migrations) or SchemaTooNewError
   * (migrated by a newer Arbiter: upgrade). Every queue and admin call runs this check on first use; its
   * success is remembered for the life of this Arbiter, a failure is checked again on the next call.
   */
  checkSchema(): Promise<void> {
    return this.schemaCheck.verify();
  }

  /** The SQL migrate() would run now (for dry runs). */
  async pendingMigrationSql(): Promise<string> {
    return pendingMigrationSql(this.schema, await currentVersion(this.db, this.schema));
  }

  /**
   * Removes Arbiter's schema and everything in it (every queue, job, dead letter and schedule), in many
   * short transactions so that any number of queues can be removed (see docs/production.md). Refuses with
   * SchemaInUseError while workers are running, unless `force`. Interrupted, it is simply called again.
   */
  async uninstall(options: UninstallOptions = {}): Promise<UninstallResult> {
    const result = await uninstall(this.db, this.schema, options);
    this.queues.clear();
    this.schemaCheck.passed = false;
    return result;
  }

  /** Creates a queue's tables if they do not exist (idempotent) and returns its handle. */
  async createQueue<T = unknown, R = unknown>(name: string): Promise<Queue<T, R>> {
    validateQueueName(name);
    await this.checkSchema();
    await queueCreate(this.db, this.schema, name);
    return this.queue<T, R>(name);
  }

  /** Drops a queue and all its jobs, dead letters and results. Returns false if it did not exist. */
  async dropQueue(name: string): Promise<boolean> {
    validateQueueName(name);
    await this.checkSchema();
    this.queues.delete(name);
    const dropped = await queueDrop(this.db, this.schema, name);
    // Its flow-control limits go with it, so a queue created again under the name starts without any.
    await keyLimitsDrop(this.db, this.schema, name);
    if (await flowLimitsDrop(this.db, this.schema, name)) invalidateFlowLimits(this.schema);
    return dropped;
  }

  /** Stops claims from a queue (enqueue keeps working; in-flight jobs finish). False if it does not exist. */
  async pauseQueue(name: string): Promise<boolean> {
    validateQueueName(name);
    await this.checkSchema();
    return queueSetPaused(this.db, this.schema, name, true);
  }

  /**
   * Changes what a queue keeps of finished work (history rows, dead letters): per limit a number, `null`
   * for no limit, or `'default'`; limits left out stay as they are. Validated before anything is written;
   * QueueNotFoundError when the queue does not exist. Returns the retention now in force. The maintenance
   * leader applies it at its next round.
   */
  async setQueueRetention(name: string, patch: RetentionPatch): Promise<Retention> {
    validateQueueName(name);
    const checked = checkRetentionPatch(patch);
    await this.checkSchema();
    const stored = await retentionUpdate(this.db, this.schema, name, checked);
    if (stored === undefined) throw new QueueNotFoundError(this.schema, name);
    return effectiveRetention(stored);
  }

  /**
   * Changes a queue's flow-control limits, enforced inside every claim across all workers and hosts
   * (see docs/flow-control.md): per limit a value, or `null` to remove it; limits left out stay as they
   * are. Validated before anything is written; QueueNotFoundError when the queue does not exist. Workers
   * see the change within a second, without a restart. Returns the limits now in force.
   */
  async setQueueLimits(name: string, patch: QueueLimitsPatch): Promise<QueueLimits> {
    validateQueueName(name);
    const checked = checkLimitsPatch(patch);
    await this.checkSchema();
    const stored = await flowLimitsSet(this.db, queueTables(this.schema, name), checked);
    if (stored === undefined) throw new QueueNotFoundError(this.schema, name);
    invalidateFlowLimits(this.schema);
    return stored;
  }

  /**
   * Changes one limit key's override of its queue's per-key defaults (concurrency, bucket, and its
   * weight in the fair share): per field a value, or `null` to fall back to the default. Validated before
   * anything is written; QueueNotFoundError when the queue does not exist. Claims see it at once (they
   * read overrides inside the claim). Returns the override now stored.
   */
  async setKeyLimits(queue: string, key: string, patch: KeyLimitsPatch): Promise<KeyLimits> {
    validateQueueName(queue);
    checkLimitKey(key, 'key');
    const checked = checkKeyLimitsPatch(patch);
    await this.checkSchema();
    const stored = await keyLimitsSet(this.db, this.schema, queue, key, checked);
    if (stored === undefined) throw new QueueNotFoundError(this.schema, queue);
    return stored;
  }

  /** One key's override (all `null` when it has none); QueueNotFoundError when the queue does not exist. */
  async getKeyLimits(queue: string, key: string): Promise<KeyLimits> {
    validateQueueName(queue);
    checkLimitKey(key, 'key');
    await this.checkSchema();
    const stored = await keyLimitsGet(this.db, this.schema, queue, key);
    if (stored === undefined) throw new QueueNotFoundError(this.schema, queue);
    return stored;
  }

  /** A keyed queue's keys (with jobs, or configured) with their limits and use, `limit` (50, ≤ 500) after `after`. */
  async listKeys(queue: string, o: { limit?: number; after?: string } = {}): Promise<KeyUsage[]> {
    validateQueueName(queue);
    const limit = o.limit === undefined ? 50 : intInRange(o.limit, 'options.limit', 1, 500);
    if (o.after !== undefined) checkLimitKey(o.after, 'options.after');
    const limits = await this.getQueueLimits(queue);
    if (limits.perKey === null) return [];
    return keyUsage(this.db, queueTables(this.schema, queue), limits, { limit, after: o.after ?? null });
  }

  /** A queue's flow-control limits (`null` where none is set); QueueNotFoundError when it does not exist. */
  async getQueueLimits(name: string): Promise<QueueLimits> {
    validateQueueName(name);
    await this.checkSchema();
    const stored = await flowLimitsGet(this.db, this.schema, name);
    if (stored === undefined) throw new QueueNotFoundError(this.schema, name);
    return stored;
  }

  /** Lets a paused queue be claimed from again and wakes idle workers at once. False if it does not exist. */
  async resumeQueue(name: string): Promise<boolean> {
    validateQueueName(name);
    await this.checkSchema();
    return queueSetPaused(this.db, this.schema, name, false);
  }

  /** Every queue of the schema, by name, with whether it is paused and when it was created. */
  async listQueues(): Promise<QueueInfo[]> {
    await this.checkSchema();
    return queueList(this.db, this.schema);
  }

  /**
   * A page of queues in name order (keyset pagination: one index range, whatever the number of queues);
   * `limit` 1–1,000, default 50; `cursor` is the previous page's `nextCursor` (null on the last page).
   */
  async listQueuesPage(options: PageOptions = {}): Promise<Page<QueueInfo>> {
    const o = checkOptions<PageOptions>(options, 'options', ['limit', 'cursor']);
    const limit =
      o.limit === undefined ? DEFAULT_PAGE_SIZE : intInRange(o.limit, 'options.limit', 1, LIMITS.maxPageSize);
    const after = o.cursor ?? null;
    if (after !== null && (typeof after !== 'string' || !/^[a-z][a-z0-9_]{0,47}$/.test(after)))
      throw new ValidationError('options.cursor', after, 'must be the nextCursor of a previous page');
    await this.checkSchema();
    const items = await queueList(this.db, this.schema, { limit, after });
    return { items, nextCursor: items.length === limit ? items.at(-1)!.name : null };
  }

  /**
   * The registered worker processes, by id: each with the queues it serves, its host and pid, when it
   * started and its last heartbeat (a worker silent for long is presumed dead and removed by the others).
   */
  async listWorkers(): Promise<WorkerInfo[]> {
    await this.checkSchema();
    return workerList(this.db, this.schema);
  }

  /**
   * Throughput and wait-time history of one queue (or of every queue, summed) from the rollup the workers
   * write (`_queue_stats`, one row per queue and minute): completed, failed, dead letters, per second, and
   * the wait's p50/p95 per bucket. Reads only the rows of the period asked for.
   */
  async statsHistory(options: StatsHistoryOptions = {}): Promise<StatsHistory> {
    await this.checkSchema();
    return readStatsHistory(this.db, this.schema, options);
  }

  /**
   * Finds jobs across queues (live jobs, kept history, dead letters) by id (index probes, complete), or by
   * payload containment and/or error text (an explicit bounded scan of each table's newest `scan` rows).
   */
  async search(options: SearchOptions): Promise<SearchResult> {
    await this.checkSchema();
    return search(this.db, this.schema, options);
  }

  /**
   * Per queue, how many enqueues the enqueue controls turned away or folded (docs/enqueue.md): debounced,
   * throttled, unique_rejected, overflow_rejected, overflow_dropped. Totals of every producer.
   */
  async enqueueControlStats(): Promise<{ queue: string; kind: ControlStat; count: number }[]> {
    await this.checkSchema();
    return statsRead(this.db, this.schema);
  }

  /** One queue's name, state and creation time, or null when it does not exist (one primary-key lookup). */
  async getQueue(name: string): Promise<QueueInfo | null> {
    validateQueueName(name);
    await this.checkSchema();
    return queueGet(this.db, this.schema, name);
  }

  /** Recurring schedules, managed at runtime (see CronSchedules). */
  get cron(): CronSchedules {
    return (this.cronSchedules ??= new CronSchedules(this));
  }

  /** The dead letters of every queue as one listing, with retry by filter (see DeadLettersAcrossQueues). */
  get deadLetters(): DeadLettersAcrossQueues {
    return (this.acrossQueues ??= new DeadLettersAcrossQueues(this));
  }

  /** A typed handle on an existing queue (no I/O). Operations on a queue never created throw QueueNotFoundError. */
  queue<T = unknown, R = unknown>(name: string): Queue<T, R> {
    validateQueueName(name);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<unknown>({
        db: this.db,
        t: queueTables(this.schema, name),
        name,
        maxPayloadBytes: this.maxPayloadBytes,
        enqueued: (queue, count) => this.reportEnqueued(queue, count),
        schemaCheck: this.schemaCheck,
        waiter: () => this.resultWaiter(),
      });
      this.queues.set(name, q);
    }
    return q as Queue<T, R>;
  }

  /**
   * @internal The trusted operations on a queue's jobs (what its handle validates input for), for the
   * worker: no validation, typed errors, the same schema check.
   */
  store(name: string): JobStore {
    return this.queue(name).store;
  }

  /** @internal `queue(name).enqueue(payload, options)`, for the worker (ctx.run): the job's id or null. */
  async enqueueOn(
    name: string,
    payload: unknown,
    options: EnqueueOptions & { tx: Executor },
  ): Promise<string | null> {
    return (await this.queue(name).enqueue(payload, options))?.id ?? null;
  }

  /**
   * Subscribes to the jobs inserted through this Arbiter's queue handles: `{ queue, count }` once per
   * successful insert statement (a dedup-skipped or idempotent enqueue inserts nothing and reports
   * nothing). Inside a caller's transaction it fires when the statement succeeds, before that transaction
   * commits. Metrics count enqueues from here. Returns an unsubscribe function.
   */
  onEnqueued(fn: (event: EnqueuedEvent) => void): () => void {
    this.enqueueListeners.add(fn);
    return () => this.enqueueListeners.delete(fn);
  }

  private reportEnqueued(queue: string, count: number): void {
    if (count <= 0) return;
    for (const fn of this.enqueueListeners) {
      try {
        fn({ queue, count });
      } catch {
        // A faulty subscriber must not fail an enqueue that has already happened.
      }
    }
  }

  /** @internal The one waiter for awaited results of this Arbiter (a LISTEN connection while in use). */
  resultWaiter(): ResultWaiter {
    return (this.waiter ??= new ResultWaiter(this.db, this.schema));
  }

  /** Flows: jobs on any queues with dependencies between them (see Flows and docs/workflows.md). */
  get flows(): Flows {
    return (this.flowsFacet ??= new Flows(this));
  }

  /**
   * Enqueues a flow: named nodes, each a job on any queue, run when the nodes they depend on succeeded.
   * All of it in one transaction (or the caller's `tx`). See Flows.create.
   */
  flow<N extends FlowNodes>(
    definition: FlowDefinition<N>,
    options: { tx?: ExecutorSource } = {},
  ): Promise<FlowHandle<N>> {
    return this.flows.create(definition, options);
  }

  /**
   * Emits an event by name: every job parked on it by `ctx.waitFor(name)` is released exactly once and
   * its waitFor returns `payload` on its next run. The event is stored (latched): a waitFor that starts
   * later returns it at once; a later emit of the name replaces the payload. With `tx`, it happens inside
   * that transaction (released when it commits). Returns how many jobs were released.
   */
  emit(name: string, payload?: unknown, options: EmitOptions = {}): Promise<{ released: number }> {
    return emitEvent(this.eventsContext(), name, payload, options);
  }

  /** An event as stored and how many jobs wait for it, or null when never emitted and awaited by none. */
  event(name: string): Promise<EventInfo | null> {
    return readEvent(this.eventsContext(), name);
  }

  private eventsContext(): EventsContext {
    return {
      db: this.db,
      schema: this.schema,
      maxPayloadBytes: this.maxPayloadBytes,
      schemaCheck: this.schemaCheck,
    };
  }

  /** Closes the pool Arbiter created (a pool or executor passed in is left open). */
  async close(): Promise<void> {
    await this.waiter?.close();
    await this.ownedPool?.end();
  }
}
