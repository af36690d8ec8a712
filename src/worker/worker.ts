import { canOpenDedicated, openReservedPool, type ReservedPool } from '../db/dedicated.js';
import type { Executor } from '../db/executor.js';
import { ClockOffset } from '../db/rows.js';
import type { JobStore, StoreAction } from '../store/job-store.js';
import { awaitMark, eventEmit, jobDoneEvent } from '../db/queries/steps.js';
import { DEFAULT_RESULT_RETAIN_MS, isTracked } from '../core/tracking.js';
import { ValidationError } from '../errors.js';
import type { Job } from '../types.js';
import { JobController } from './abort.js';
import { realClock, type Clock } from './clock.js';
import { Completer } from './completer.js';
import { abortCancelled } from './cancellation.js';
import { CRON_NOTICE, CronScheduler } from './cron.js';
import { WorkerEventEmitter, type WorkerEventName, type WorkerEvents } from './events.js';
import {
  JobAbortError,
  runBatch,
  runJob,
  awaited,
  type HandlerWrapper,
  type RunEnv,
  type RunOutcome,
} from './runner.js';
import { Fetcher } from './fetcher.js';
import { queuePoll } from '../db/queries/queue-due.js';
import type { Claimed, FetchTarget } from './queue-state.js';
import { confirmLease, LeaseHeartbeat, type Running } from './heartbeat.js';
import { Listener } from './listener.js';
import { Maintenance } from './maintenance.js';
import { checkWorkerStart, type QueueWatch } from './queue-watch.js';
import { resolveOptions, type ResolvedOptions, type WorkerOptions } from './options.js';
import { WorkerRegistry } from './registry.js';
import { StatsRecorder } from './stats-recorder.js';
import { workerSnapshot, type WorkerSnapshot } from './snapshot.js';
import { batchedReports, ReportBatcher } from './report-batcher.js';
import { onStopSignals } from './signals.js';

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Outcomes waiting to be written before the worker stops starting jobs (see freeSlots). */
const MAX_PENDING_WRITES = 5_000;

/**
 * Runs handlers for one or more queues: one fetcher claims jobs into free slots, handlers run with an
 * AbortSignal (timeouts, lost leases, forced shutdown), outcomes are written in fenced batches, leases
 * are extended while handlers run, and the worker registers itself so others can release its jobs if it
 * dies. Delivery is at least once: a handler may run again after a crash, so make it idempotent.
 */
export class Worker<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly id: string;
  private readonly o: ResolvedOptions;
  /** Time for the fetcher, completer and heartbeat (and the lease ages they compare). */
  private readonly clock: Clock = realClock;
  /** The host clock against the database's, measured by the registry heartbeat. */
  private readonly clockOffset = new ClockOffset();
  private readonly emitter = new WorkerEventEmitter();
  private readonly running = new Map<number, Running>();
  private readonly perQueue = new Map<string, number>();
  private readonly targets: FetchTarget[];
  private readonly completer: Completer;
  private readonly fetcher: Fetcher;
  private readonly heartbeat: LeaseHeartbeat;
  private readonly registry: WorkerRegistry;
  /** Finished attempts per queue and minute, written every heartbeat interval (the queue charts' source). */
  private readonly stats: StatsRecorder;
  private readonly listener: Listener | undefined;
  private readonly maintenance: Maintenance | undefined;
  private readonly cron: CronScheduler;
  /** With `waitForQueues`: the queues that did not exist at start, until they do. */
  private watch: QueueWatch | undefined;
  private readonly env: RunEnv;
  /** Connections of our own for control traffic (leases, completions, registry); see reservedConnections. */
  private readonly reserve: ReservedPool | undefined;
  /** Where control traffic goes: the reserved pool, or the Arbiter's own executor without one. */
  private readonly control: Executor;
  /** Per queue, its jobs through `control`: claims, lease extensions and outcomes. */
  private readonly stores = new Map<string, JobStore>();
  private nextRunId = 0;
  private readonly wrappers: HandlerWrapper[] = [];
  /** Outcomes decided but not yet written. */
  private pendingWrites = 0;
  private state: State = 'idle';
  private stopping: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Handler calls whose outcome is not written yet, and who waits for them to reach zero. */
  private executions = 0;
  private executionWaiters: (() => void)[] = [];
  private removeSignalHandlers: (() => void) | undefined;
  private readonly stoppedPromise: Promise<void>;
  private resolveStopped: () => void = () => undefined;
  private forceStop: (() => void) | undefined;

  constructor(options: WorkerOptions<P>) {
    this.o = resolveOptions(options as unknown as WorkerOptions);
    this.emitter.limitErrors(this.o.errorIntervalMs);
    this.stoppedPromise = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    const { arbiter } = this.o;
    this.id = this.o.workerId;
    this.reserve = openReservedPool(arbiter.db, this.o.reservedConnections, this.o.connectionString);
    this.control = this.reserve?.db ?? arbiter.db;
    // Claims go through the reserved connections too: they are control traffic that handlers must not
    // starve, and they run there with generic plans.
    // The stores share this worker's measurement of the host clock against the database's (registry).
    for (const queue of this.o.queues) {
      const store = arbiter.store(queue.name);
      this.stores.set(queue.name, store.using(this.reserve ? this.control : store.db, this.clockOffset));
    }
    this.targets = this.o.queues.map((queue) => ({ queue, store: this.stores.get(queue.name)! }));
    this.completer = new Completer(
      this.o.completionFlushMs,
      (error, context) => this.emitter.emit('error', { error, context }),
      () => this.running.size === 0 && this.fetcher.buffered === 0,
      this.clock,
    );
    const pollQueues = this.o.queues.map((q) => q.name);
    this.fetcher = new Fetcher(
      this.targets,
      {
        concurrency: this.o.concurrency,
        free: (q) => this.freeSlots(q.name, q.concurrency),
        // A queue still missing (waitForQueues) is not claimed from until it appears.
        open: (q) => !this.watch?.has(q.name),
      },
      this.id,
      this.o.pollIntervalMs,
      {
        dispatch: (target, claims) => this.dispatch(target, claims),
        release: (target, jobs) => this.release(target.store, jobs).then(() => undefined),
        poll: (settle) => queuePoll(this.control, arbiter.schema, pollQueues, settle, this.o.pollIntervalMs),
      },
      this.emitter,
      this.clock,
    );
    const minLease = Math.min(...this.o.queues.map((q) => q.leaseMs));
    this.heartbeat = new LeaseHeartbeat(
      () => this.running.values(),
      Math.max(10, Math.floor(minLease / 3)),
      this.emitter,
      this.clock,
    );
    const queueNames = this.o.queues.map((q) => q.name);
    this.registry = new WorkerRegistry(
      this.control,
      arbiter.schema,
      this.id,
      queueNames,
      this.o.heartbeatIntervalMs,
      this.emitter,
      this.clockOffset,
      () => this.snapshot(),
    );
    this.stats = new StatsRecorder(this.control, arbiter.schema, this.o.heartbeatIntervalMs, this.emitter);
    if (this.o.listen && canOpenDedicated(arbiter.db, this.o.connectionString)) {
      this.listener = new Listener({
        db: arbiter.db,
        schema: arbiter.schema,
        queues: queueNames,
        connectionString: this.o.connectionString,
        checkIntervalMs: this.o.listenerCheckIntervalMs,
        checkTimeoutMs: this.o.listenerCheckTimeoutMs,
        triggerCheckIntervalMs: this.o.triggerCheckIntervalMs,
        events: this.emitter,
        onWake: (queue) => {
          // A NOTIFY names a queue whose jobs exist: one we wait for is there now.
          if (queue !== null && this.watch?.has(queue)) void this.watch.check();
          this.fetcher.wake(queue);
        },
        onCancel: (queue, ids) => abortCancelled(this.running.values(), queue, ids, this.emitter),
        onNotice: (notice) => notice === CRON_NOTICE && this.cron.poke(),
      });
    }
    if (this.o.maintenance) {
      this.maintenance = new Maintenance({
        arbiter,
        workerId: this.id,
        connectionString: this.o.connectionString,
        intervalMs: this.o.maintenanceIntervalMs,
        deadWorkerThresholdMs: this.o.deadWorkerThresholdMs,
        staleMaxAgeMs: this.o.staleMaxAgeMs,
        groupRefreshIntervalMs: 10 * 60_000,
        events: this.emitter,
      });
    }
    this.cron = new CronScheduler(
      arbiter,
      this.o.cron,
      this.o.cronCheckIntervalMs,
      this.emitter,
      (queue) => !this.watch?.has(queue),
      this.o.runtimeCron,
    );
    const reports = new ReportBatcher();
    this.env = {
      events: this.emitter,
      workerId: this.id,
      maxResultBytes: arbiter.maxPayloadBytes,
      extendLease: (job, leaseMs) => this.extendLease(job, leaseMs),
      childOutcomes: (job) => (this.stores.get(job.queue) ?? arbiter.store(job.queue)).childOutcomes(job.id),
      report: batchedReports(reports, (q) => this.stores.get(q) ?? arbiter.store(q)),
      withdrawReport: (job, write) => reports.withdraw(job.queue, write),
      clock: this.clock,
      // Step writes come from handlers: the shared pool, like the handlers' own queries, never the
      // reserved connections that keep claims, heartbeats and completions going.
      store: (q) => arbiter.store(q),
      // ctx.run's enqueue: every option, check and error of queue.enqueue, then the job made to report
      // its end to the awaiting job from the statement that ends it (awaitMark).
      enqueue: async (q, payload, options, tx) => {
        const id = await arbiter.enqueueOn(q, payload, { ...options, tx });
        if (id === null) return null;
        if (!(await awaitMark(tx, arbiter.schema, q, id, DEFAULT_RESULT_RETAIN_MS)))
          throw new ValidationError('run payload', payload, `was handed job ${id}, which ended meanwhile`);
        return id;
      },
    };
  }

  /** Subscribes to the worker's typed event stream; returns an unsubscribe function. */
  on<K extends WorkerEventName>(name: K, fn: (event: WorkerEvents[K]) => void): () => void {
    return this.emitter.on(name, fn);
  }

  once<K extends WorkerEventName>(name: K, fn: (event: WorkerEvents[K]) => void): () => void {
    return this.emitter.once(name, fn);
  }

  off<K extends WorkerEventName>(name: K, fn: (event: WorkerEvents[K]) => void): void {
    this.emitter.off(name, fn);
  }

  /**
   * Runs every handler call inside `wrapper`, which must call `next` once and return its result (e.g.
   * to run handlers inside a tracing context: attachTracing does this). Wrappers added later run inside
   * earlier ones. Returns a function that removes the wrapper.
   */
  wrapHandlers(wrapper: HandlerWrapper): () => void {
    this.wrappers.push(wrapper);
    this.env.wrap = composeWrappers(this.wrappers);
    return () => {
      const i = this.wrappers.indexOf(wrapper);
      if (i >= 0) this.wrappers.splice(i, 1);
      this.env.wrap = composeWrappers(this.wrappers);
    };
  }

  /** Handler invocations in progress (a batch counts once). */
  get activeCount(): number {
    return this.running.size;
  }

  /** Jobs claimed ahead of free slots and waiting in memory to start (see the queue option `prefetch`). */
  get prefetchedCount(): number {
    return this.fetcher.buffered;
  }

  /** True while this worker holds the maintenance leadership. */
  get isLeader(): boolean {
    return this.maintenance?.isLeader ?? false;
  }

  /** The backend pid of the LISTEN connection, or null (poll-only, or reconnecting). */
  get listenerPid(): number | null {
    return this.listener?.pid ?? null;
  }

  /**
   * Checks that the schema is migrated for this version and that every queue (served, or a cron target)
   * exists, then registers the worker and starts claiming. Resolves once running. A failed check rejects
   * (SchemaNotMigratedError, SchemaTooNewError, QueuesNotFoundError) before anything is registered,
   * started or emitted, and the worker is stopped.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`worker ${this.id} cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      // Before anything is registered or started: a worker that cannot do its job leaves no trace.
      this.watch = await checkWorkerStart(this.o, {
        db: this.control,
        workerId: this.id,
        onAppear: (queue) => this.fetcher.askAgain(queue),
        events: this.emitter,
      });
    } catch (error) {
      await this.reserve?.close();
      this.state = 'stopped';
      this.resolveStopped();
      throw error;
    }
    try {
      await this.registry.start();
      this.stats.start();
      await this.listener?.start();
      this.heartbeat.start();
      this.fetcher.start();
      this.maintenance?.start();
      await this.cron.start();
    } catch (error) {
      await this.shutdownServices();
      this.state = 'stopped';
      this.resolveStopped();
      throw error;
    }
    if (this.o.handleSignals) {
      this.removeSignalHandlers = onStopSignals(
        () => void this.stop(),
        () => this.stopping !== undefined,
        () => this.forceStop?.(),
      );
    }
    this.state = 'running';
    this.emitter.emit('worker:started', { workerId: this.id, queues: this.o.queues.map((q) => q.name) });
    this.watch?.start();
  }

  /**
   * Graceful shutdown: stops claiming, lets running handlers finish for up to `timeoutMs` (default
   * `shutdownTimeoutMs`), then aborts the rest and releases their jobs at once (attempt refunded).
   * Resolves when every write is done and the worker is unregistered. Safe to call more than once.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.doStop(options.timeoutMs ?? this.o.shutdownTimeoutMs);
    return this.stopping;
  }

  /** Resolves once the worker has stopped (by `stop()` or a signal): e.g. then close the Arbiter. */
  wait(): Promise<void> {
    return this.stoppedPromise;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    if (this.state === 'idle' || this.state === 'stopped') {
      this.state = 'stopped';
      this.resolveStopped();
      return;
    }
    this.state = 'stopping';
    await this.fetcher.stop();
    await this.cron.stop();
    await this.waitIdle(timeoutMs);
    let abandoned = 0;
    if (this.running.size > 0) abandoned = await this.abortAndRelease();
    if (this.executions > 0) await new Promise<void>((r) => this.executionWaiters.push(r));
    await this.completer.drain();
    await this.shutdownServices();
    this.removeSignalHandlers?.();
    this.removeSignalHandlers = undefined;
    this.state = 'stopped';
    this.emitter.emit('worker:stopped', { workerId: this.id, abandoned });
    this.resolveStopped();
  }

  private async shutdownServices(): Promise<void> {
    await this.watch?.stop();
    this.heartbeat.stop();
    await this.fetcher.stop();
    await this.listener?.stop();
    await this.maintenance?.stop();
    await this.cron.stop();
    await this.stats.stop();
    await this.registry.stop();
    await this.reserve?.close();
    this.emitter.flushErrors();
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      this.forceStop = done;
      this.idleWaiters.push(done);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Aborts every running handler and makes its jobs claimable again now, refunding the attempt. */
  private async abortAndRelease(): Promise<number> {
    const runs = [...this.running.values()];
    const byQueue = new Map<string, { store: JobStore; jobs: Job[] }>();
    for (const r of runs) {
      r.controller.abort(new JobAbortError('shutdown', 'worker shutting down'));
      const entry = byQueue.get(r.queue.name) ?? { store: r.store, jobs: [] };
      entry.jobs.push(...r.jobs);
      byQueue.set(r.queue.name, entry);
    }
    let count = 0;
    for (const { store, jobs } of byQueue.values()) {
      try {
        count += await this.release(store, jobs);
      } catch (error) {
        this.emitter.emit('error', { error, context: 'shutdown:release' });
      }
    }
    return count;
  }

  /** Makes held jobs claimable again now, refunding the attempt (fenced: a lost lease changes nothing). */
  private async release(store: JobStore, jobs: Job[]): Promise<number> {
    const note = `released by worker ${this.id} (${this.state === 'running' ? 'prefetched too long' : 'shutdown'})`;
    const released = await store.snooze(
      jobs.map((j) => ({ id: j.id, attempts: j.attempts, delayMs: 0, note })),
    );
    for (const job of jobs) this.emitter.emit('job:released', { queue: store.queue, job });
    return released.length;
  }

  private freeSlots(queue: string, queueConcurrency: number): number {
    if (this.state !== 'running' && this.state !== 'starting') return 0;
    // A queue still missing (waitForQueues) is not claimed from until it appears.
    if (this.watch?.has(queue)) return 0;
    // Backpressure: while the database lags behind on writing outcomes, stop starting new jobs.
    if (this.pendingWrites >= MAX_PENDING_WRITES) return 0;
    return Math.min(
      queueConcurrency - (this.perQueue.get(queue) ?? 0),
      this.o.concurrency - this.running.size,
    );
  }

  private dispatch(target: FetchTarget, claims: Claimed[]): void {
    for (const { batch: jobs, at } of claims) {
      const run: Running = {
        queue: target.queue,
        // Lease extensions and completions of this run use the reserved connections.
        store: target.store,
        jobs,
        controller: new JobController(),
        claimedAt: at,
      };
      const runId = this.nextRunId++;
      this.running.set(runId, run);
      this.perQueue.set(target.queue.name, (this.perQueue.get(target.queue.name) ?? 0) + 1);
      if (this.emitter.listenerCount('job:claimed') > 0)
        for (const job of jobs) this.emitter.emit('job:claimed', { queue: target.queue.name, job });
      this.executions++;
      void this.execute(runId, run).finally(() => {
        if (--this.executions === 0) for (const w of this.executionWaiters.splice(0)) w();
      });
    }
  }

  /**
   * Runs one handler call. Its slot is freed as soon as the handler has decided, before the outcome is
   * written: the write joins the completer's next batch while the slot already runs the next job (the
   * job stays leased until the write commits, so nobody else can take it meanwhile). Writes still pending
   * count against `maxPendingWrites`, and shutdown waits for them.
   */
  private async execute(runId: number, run: Running): Promise<void> {
    const started = this.clock.now();
    let decisions: RunOutcome[] = [];
    try {
      decisions = run.queue.batchHandler
        ? await runBatch(run.queue, run.jobs, run.controller, this.env)
        : [await runJob(run.queue, run.jobs[0]!, run.controller, this.env)];
    } catch (error) {
      this.emitter.emit('error', { error, context: `execute:${run.queue.name}` });
    }
    const durationMs = this.clock.now() - started;
    this.pendingWrites += decisions.length;
    this.running.delete(runId);
    this.perQueue.set(run.queue.name, (this.perQueue.get(run.queue.name) ?? 1) - 1);
    if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.fetcher.slotFreed(run.queue.name, durationMs);
    try {
      if (decisions.length === 1) await this.record(run, run.jobs[0]!, decisions[0]!, durationMs);
      else await Promise.all(decisions.map((d, i) => this.record(run, run.jobs[i]!, d, durationMs)));
    } catch (error) {
      this.emitter.emit('error', { error, context: `execute:${run.queue.name}` });
    } finally {
      this.pendingWrites -= decisions.length;
      if (this.pendingWrites < MAX_PENDING_WRITES) this.fetcher.slotFreed(run.queue.name);
    }
  }

  private async record(run: Running, job: Job, decision: RunOutcome, durationMs: number): Promise<void> {
    const queue = run.queue.name;
    if (decision.kind === 'abandon') return;
    if (decision.kind === 'parked') {
      // Already written by the step call: the job holds no lease now.
      if (job.groupKey !== null) this.fetcher.askAgain(queue);
      if (decision.dueInMs !== null) this.fetcher.dueIn(queue, decision.dueInMs);
      if (this.emitter.listenerCount('job:parked') > 0)
        this.emitter.emit('job:parked', { queue, job, dueInMs: decision.dueInMs });
      return;
    }
    const { action } = decision;
    // The job's last report, not yet written: it goes with the outcome, under the same fence.
    const pending = decision.reported;
    const report = pending instanceof Promise ? await pending : (pending ?? null);
    // A job awaited by ctx.run reports its end from the statement that writes it (migration 0015: it is
    // tracked). Only one enqueued by an older version (not tracked) still reports here, before its write.
    if (awaited(job) && action.type !== 'retry' && action.type !== 'snooze' && !isTracked(job))
      await reportAwaited(run.store, job, action);
    const written = await this.completer.complete(run.store, job, action, report ?? undefined);
    if (written === 'fenced') this.emitter.emit('job:lease-lost', { queue, job, status: 'fenced' });
    if (written !== 'accepted') return; // 'failed' was reported as an error event
    if (action.type !== 'snooze') {
      const kind = action.type === 'retry' ? 'failed' : action.type === 'dead' ? 'dead' : 'completed';
      this.stats.record(queue, job, kind);
    }
    // The group's next job can run now: claim it here rather than at the next poll.
    if (job.groupKey !== null) this.fetcher.askAgain(queue);
    // A retry or snooze for later runs when it is due, not at the first poll after (one due at once is
    // announced by the database).
    if ((action.type === 'retry' || action.type === 'snooze') && action.delayMs > 0)
      this.fetcher.dueIn(queue, action.delayMs);
    switch (action.type) {
      case 'ack':
      case 'keep':
        if (this.emitter.listenerCount('job:succeeded') > 0)
          this.emitter.emit('job:succeeded', { queue, job, durationMs });
        break;
      case 'retry':
        this.emitter.emit('job:retried', { queue, job, delayMs: action.delayMs, error: action.error });
        break;
      case 'snooze':
        this.emitter.emit('job:snoozed', { queue, job, delayMs: action.delayMs });
        break;
      case 'dead':
        this.emitter.emit('job:dead', { queue, job, error: action.error });
        break;
    }
  }

  /** What this worker runs now, for its registry row (the workers view). */
  private snapshot(): WorkerSnapshot {
    return workerSnapshot(this.o, this.running.values(), this.fetcher.buffered);
  }

  private async extendLease(job: Job, leaseMs: number): Promise<boolean> {
    const store = this.stores.get(job.queue) ?? this.o.arbiter.store(job.queue);
    const ok = await store.extendLease({ id: job.id, attempts: job.attempts }, leaseMs);
    if (ok)
      for (const r of this.running.values())
        if (r.jobs.includes(job)) confirmLease(r, job.id, this.clock.now());
    return ok;
  }
}

/** Creates a worker (not started: call `start()`). */
export function createWorker<P extends Record<string, unknown> = Record<string, unknown>>(
  options: WorkerOptions<P>,
): Worker<P> {
  return new Worker<P>(options);
}

/** One wrapper out of many: the first added is the outermost. Undefined when there are none. */
function composeWrappers(wrappers: readonly HandlerWrapper[]): HandlerWrapper | undefined {
  if (wrappers.length === 0) return undefined;
  const list = [...wrappers];
  return (call, next) => {
    const run = (i: number): unknown => (i === list.length ? next() : list[i]!(call, () => run(i + 1)));
    return run(0);
  };
}

/**
 * Emits the done event of a job awaited by ctx.run that is not tracked (enqueued by a version before
 * migration 0015): `{ ok: true, result }` or `{ ok: false, error }`.
 */
async function reportAwaited(store: JobStore, job: Job, action: StoreAction): Promise<void> {
  const payload =
    action.type === 'dead'
      ? JSON.stringify({ ok: false, error: action.error })
      : `{"ok":true,"result":${(action.type === 'ack' || action.type === 'keep' ? action.result : null) ?? 'null'}}`;
  await store.run(() => eventEmit(store.db, store.t.schema, jobDoneEvent(job.queue, job.id), payload));
}
