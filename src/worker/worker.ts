import type { Queue } from '../client/queue.js';
import { canOpenDedicated } from '../db/dedicated.js';
import { jobReleaseMany } from '../db/queries/job-worker.js';
import type { Job } from '../types.js';
import { loadChildOutcomes } from './children.js';
import { Completer } from './completer.js';
import { CronScheduler } from './cron.js';
import { WorkerEventEmitter, type WorkerEventName, type WorkerEvents } from './events.js';
import { JobAbortError, runBatch, runJob, type RunEnv, type RunOutcome } from './executor.js';
import { Fetcher, type FetchTarget } from './fetcher.js';
import { LeaseHeartbeat, type Running } from './heartbeat.js';
import { Listener } from './listener.js';
import { Maintenance } from './maintenance.js';
import { resolveOptions, type ResolvedOptions, type WorkerOptions } from './options.js';
import { WorkerRegistry } from './registry.js';

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Runs handlers for one or more queues: one fetcher claims jobs into free slots, handlers run with an
 * AbortSignal (timeouts, lost leases, forced shutdown), outcomes are written in fenced batches, leases
 * are extended while handlers run, and the worker registers itself so others can release its jobs if it
 * dies. Delivery is at least once: a handler may run again after a crash, so make it idempotent.
 */
export class Worker<P extends Record<string, unknown> = Record<string, unknown>> {
  readonly id: string;
  private readonly o: ResolvedOptions;
  private readonly emitter = new WorkerEventEmitter();
  private readonly running = new Map<number, Running>();
  private readonly perQueue = new Map<string, number>();
  private readonly targets: FetchTarget[];
  private readonly completer: Completer;
  private readonly fetcher: Fetcher;
  private readonly heartbeat: LeaseHeartbeat;
  private readonly registry: WorkerRegistry;
  private readonly listener: Listener | undefined;
  private readonly maintenance: Maintenance | undefined;
  private readonly cron: CronScheduler;
  private readonly env: RunEnv;
  private nextRunId = 0;
  private state: State = 'idle';
  private stopping: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly executions = new Set<Promise<void>>();
  private signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  private readonly stoppedPromise: Promise<void>;
  private resolveStopped: () => void = () => undefined;
  private forceStop: (() => void) | undefined;

  constructor(options: WorkerOptions<P>) {
    this.o = resolveOptions(options as unknown as WorkerOptions);
    this.stoppedPromise = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    const { arbiter } = this.o;
    this.id = this.o.workerId;
    this.targets = this.o.queues.map((queue) => ({ queue, handle: arbiter.queue(queue.name) }));
    this.completer = new Completer(
      arbiter.db,
      this.o.completionFlushMs,
      arbiter.maxPayloadBytes,
      (error, context) => this.emitter.emit('error', { error, context }),
    );
    this.fetcher = new Fetcher(
      this.targets,
      { free: (q) => this.freeSlots(q.name, q.concurrency) },
      this.id,
      this.o.pollIntervalMs,
      (target, batches) => this.dispatch(target, batches),
      this.emitter,
    );
    const minLease = Math.min(...this.o.queues.map((q) => q.leaseMs));
    this.heartbeat = new LeaseHeartbeat(
      () => this.running.values(),
      Math.max(10, Math.floor(minLease / 3)),
      this.emitter,
    );
    const queueNames = this.o.queues.map((q) => q.name);
    this.registry = new WorkerRegistry(
      arbiter.db,
      arbiter.schema,
      this.id,
      queueNames,
      this.o.heartbeatIntervalMs,
      this.emitter,
    );
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
        onWake: (queue) => this.fetcher.wake(queue),
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
    this.cron = new CronScheduler(arbiter, this.o.cron, this.o.cronCheckIntervalMs, this.emitter);
    this.env = {
      events: this.emitter,
      workerId: this.id,
      maxResultBytes: arbiter.maxPayloadBytes,
      extendLease: (job, leaseMs) => this.extendLease(job, leaseMs),
      childOutcomes: (job) => loadChildOutcomes(arbiter.queue(job.queue), job),
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

  /** Handler invocations in progress (a batch counts once). */
  get activeCount(): number {
    return this.running.size;
  }

  /** True while this worker holds the maintenance leadership. */
  get isLeader(): boolean {
    return this.maintenance?.isLeader ?? false;
  }

  /** The backend pid of the LISTEN connection, or null (poll-only, or reconnecting). */
  get listenerPid(): number | null {
    return this.listener?.pid ?? null;
  }

  /** Registers the worker and starts claiming. Resolves once running. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`worker ${this.id} cannot start: it is ${this.state}`);
    this.state = 'starting';
    try {
      await this.registry.start();
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
    if (this.o.handleSignals) this.installSignalHandlers();
    this.state = 'running';
    this.emitter.emit('worker:started', { workerId: this.id, queues: this.o.queues.map((q) => q.name) });
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
    await Promise.all([...this.executions]);
    await this.completer.drain();
    await this.shutdownServices();
    this.removeSignalHandlers();
    this.state = 'stopped';
    this.emitter.emit('worker:stopped', { workerId: this.id, abandoned });
    this.resolveStopped();
  }

  private async shutdownServices(): Promise<void> {
    this.heartbeat.stop();
    await this.fetcher.stop();
    await this.listener?.stop();
    await this.maintenance?.stop();
    await this.cron.stop();
    await this.registry.stop();
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
    const byQueue = new Map<string, { handle: Queue<unknown>; jobs: Job[] }>();
    for (const r of runs) {
      r.controller.abort(new JobAbortError('shutdown', 'worker shutting down'));
      const entry = byQueue.get(r.queue.name) ?? { handle: r.handle, jobs: [] };
      entry.jobs.push(...r.jobs);
      byQueue.set(r.queue.name, entry);
    }
    let count = 0;
    for (const [queue, { handle, jobs }] of byQueue) {
      try {
        count += await jobReleaseMany(
          this.o.arbiter.db,
          handle.tables,
          jobs.map((j) => ({ id: j.id, attempts: j.attempts })),
          `released by worker ${this.id} at shutdown`,
        );
        for (const job of jobs) this.emitter.emit('job:released', { queue, job });
      } catch (error) {
        this.emitter.emit('error', { error, context: 'shutdown:release' });
      }
    }
    return count;
  }

  private installSignalHandlers(): void {
    this.signalHandler = () => {
      if (this.stopping) {
        // A second signal: stop waiting for running handlers.
        this.forceStop?.();
        return;
      }
      void this.stop();
    };
    process.on('SIGTERM', this.signalHandler);
    process.on('SIGINT', this.signalHandler);
  }

  private removeSignalHandlers(): void {
    if (!this.signalHandler) return;
    process.off('SIGTERM', this.signalHandler);
    process.off('SIGINT', this.signalHandler);
    this.signalHandler = undefined;
  }

  private freeSlots(queue: string, queueConcurrency: number): number {
    if (this.state !== 'running' && this.state !== 'starting') return 0;
    return Math.min(
      queueConcurrency - (this.perQueue.get(queue) ?? 0),
      this.o.concurrency - this.running.size,
    );
  }

  private dispatch(target: FetchTarget, batches: Job[][]): void {
    for (const jobs of batches) {
      const run: Running = {
        queue: target.queue,
        handle: target.handle,
        jobs,
        controller: new AbortController(),
        confirmedAt: new Map(jobs.map((j) => [j.id, Date.now()])),
      };
      const runId = this.nextRunId++;
      this.running.set(runId, run);
      this.perQueue.set(target.queue.name, (this.perQueue.get(target.queue.name) ?? 0) + 1);
      for (const job of jobs) this.emitter.emit('job:claimed', { queue: target.queue.name, job });
      const p = this.execute(runId, run).finally(() => this.executions.delete(p));
      this.executions.add(p);
    }
  }

  private async execute(runId: number, run: Running): Promise<void> {
    const started = Date.now();
    try {
      const decisions: RunOutcome[] = run.queue.batchHandler
        ? await runBatch(run.queue, run.jobs, run.controller, this.env)
        : [await runJob(run.queue, run.jobs[0]!, run.controller, this.env)];
      this.running.delete(runId);
      await Promise.all(decisions.map((d, i) => this.record(run, run.jobs[i]!, d, started)));
    } catch (error) {
      this.emitter.emit('error', { error, context: `execute:${run.queue.name}` });
    } finally {
      this.running.delete(runId);
      this.perQueue.set(run.queue.name, (this.perQueue.get(run.queue.name) ?? 1) - 1);
      if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.fetcher.slotFreed();
    }
  }

  private async record(run: Running, job: Job, decision: RunOutcome, started: number): Promise<void> {
    const queue = run.queue.name;
    if (decision.kind === 'abandon') return;
    const { action } = decision;
    const written = await this.completer.complete(run.handle, job, action);
    if (written === 'fenced') this.emitter.emit('job:lease-lost', { queue, job, status: 'fenced' });
    if (written !== 'accepted') return; // 'failed' was reported as an error event
    switch (action.type) {
      case 'ack':
        this.emitter.emit('job:succeeded', { queue, job, durationMs: Date.now() - started });
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

  private async extendLease(job: Job, leaseMs: number): Promise<boolean> {
    const ok = (await this.o.arbiter.queue(job.queue).extendLease(job, leaseMs)) > 0;
    if (ok)
      for (const r of this.running.values()) if (r.jobs.includes(job)) r.confirmedAt.set(job.id, Date.now());
    return ok;
  }
}

/** Creates a worker (not started: call `start()`). */
export function createWorker<P extends Record<string, unknown> = Record<string, unknown>>(
  options: WorkerOptions<P>,
): Worker<P> {
  return new Worker<P>(options);
}
