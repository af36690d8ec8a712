import { isDatabaseUnavailable } from '../core/connection-errors.js';
import type { Job } from '../types.js';

/** Everything the worker reports. Metrics and tracing subscribe here; nothing else is an observability hook. */
export interface WorkerEvents {
  'worker:started': { workerId: string; queues: string[] };
  'worker:stopped': { workerId: string; abandoned: number };
  /** The host clock differs from the database clock by more than 60 s (checked at each registry heartbeat). */
  'worker:clock-skew': { workerId: string; skewMs: number };
  /** Once at start, with `waitForQueues`: these queues do not exist yet; each is served once it does. */
  'worker:queues-missing': { workerId: string; queues: string[] };
  /** A queue reported missing at start was created: the worker serves it from now on. */
  'worker:queue-appeared': { workerId: string; queue: string };
  'job:claimed': { queue: string; job: Job };
  'job:started': { queue: string; job: Job };
  'job:succeeded': { queue: string; job: Job; durationMs: number };
  'job:retried': { queue: string; job: Job; delayMs: number; error: string };
  'job:snoozed': { queue: string; job: Job; delayMs: number };
  /**
   * The run parked the job (ctx.sleep, ctx.waitFor): it holds no lease and its attempt was refunded; it
   * runs again in `dueInMs` (a sleep's end or a wait's timeout) or, when null, once its event is emitted.
   */
  'job:parked': { queue: string; job: Job; dueInMs: number | null };
  /** A durable step (ctx.step) finished: ran now and recorded, or `replayed` from its stored result. */
  'job:step': { queue: string; job: Job; name: string; replayed: boolean };
  /** The handler threw (or timed out); the decided follow-up is reported as retried or dead. */
  'job:failed': { queue: string; job: Job; error: unknown; timedOut: boolean; durationMs: number };
  'job:dead': { queue: string; job: Job; error: string };
  'job:timed-out': { queue: string; job: Job; timeoutMs: number };
  /** The handler reported progress (`ctx.progress`) or metadata (`ctx.setMeta`); written coalesced. */
  'job:progress': { queue: string; job: Job; progress?: unknown; meta?: Record<string, unknown> };
  /** The handler logged a line (`ctx.log`), as stored (cut to 2,048 bytes); written coalesced. */
  'job:log': { queue: string; job: Job; message: string };
  /** Our write was fenced off, or a heartbeat found the job taken over: the result was not recorded. */
  'job:lease-lost': { queue: string; job: Job; status: 'stolen' | 'acked' | 'fenced' };
  /**
   * The job was cancelled (deleted) while this worker ran it: its handler's signal was aborted with reason
   * `cancelled` and nothing is written for it. Workers that LISTEN learn it at once; others find the job
   * gone at their next lease extension and report `job:lease-lost` instead. `aborted` is false for a job
   * of a batch whose other jobs were not all cancelled (the batch runs on; only its write is fenced out).
   */
  'job:cancelled': { queue: string; job: Job; aborted: boolean };
  /** Given back unrun (graceful shutdown, or prefetched too long): visible again at once, attempt refunded. */
  'job:released': { queue: string; job: Job };
  'listener:connected': { channel: string };
  'listener:reconnected': { channel: string; attempt: number };
  'listener:trigger-repaired': { queue: string };
  'maintenance:workers-released': { workers: string[]; jobs: Record<string, number> };
  'maintenance:stale-recovered': { queue: string; retried: number; dead: number };
  'maintenance:exhausted-reaped': { queue: string; count: number };
  'maintenance:leader': { workerId: string; leader: boolean };
  /** The leader vacuumed a queue table whose dead rows had piled up (autovacuum off or behind). */
  'maintenance:vacuumed': { queue: string; table: string; deadTuples: number; durationMs: number };
  /**
   * The leader deleted rows past a queue's retention: history rows, dead letters or job reports (kept
   * as long as the longer of the history and dead-letter ages), by age or by count
   * (one event per queue, table and reason per round that deleted any), and throughput history rows
   * (`stats`) past the queue's `statsMaxAgeMs`.
   */
  'maintenance:pruned': {
    queue: string;
    table: 'history' | 'dead-letters' | 'reports' | 'attempts' | 'stats' | 'steps';
    reason: 'age' | 'count' | 'gone';
    count: number;
  };
  'cron:fired': { name: string; queue: string; tick: Date; jobId: string | null; skipped: boolean };
  /**
   * Due ticks of a schedule were left unfired (downtime, or a check that came late), by its missed-tick
   * policy: `missed` of them (null: more than a thousand), up to and including `through`.
   */
  'cron:missed': {
    name: string;
    queue: string;
    missed: number | null;
    policy: 'skip' | 'once' | 'catch-up';
    through: Date;
  };
  /**
   * Unexpected errors in the worker's own loops. They never crash the process; loops back off and
   * continue. Rate-limited per context (see `errorIntervalMs`): `suppressed` counts the errors of the same
   * context left out since the previous event of that context.
   */
  error: { error: unknown; context: string; suppressed?: number };
}

export type WorkerEventName = keyof WorkerEvents;
type Listener<K extends WorkerEventName> = (event: WorkerEvents[K]) => void;

/**
 * One typed event stream. Unlike Node's EventEmitter, an `error` event without listeners is not thrown,
 * and a listener that throws cannot break the worker.
 */
export class WorkerEventEmitter {
  private readonly listeners = new Map<WorkerEventName, Set<Listener<WorkerEventName>>>();
  private limiter: ErrorRateLimiter | undefined;

  /**
   * From now on, `error` events are rate-limited per context: at most one every `intervalMs` (0 = every
   * error is emitted). See ErrorRateLimiter.
   */
  limitErrors(intervalMs: number): void {
    this.limiter?.flush();
    this.limiter =
      intervalMs > 0 ? new ErrorRateLimiter(intervalMs, (e) => this.deliver('error', e)) : undefined;
  }

  /** Emits the summaries of errors still held back by the rate limiter (e.g. before the worker stops). */
  flushErrors(): void {
    this.limiter?.flush();
  }

  on<K extends WorkerEventName>(name: K, fn: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(fn as Listener<WorkerEventName>);
    return () => this.off(name, fn);
  }

  once<K extends WorkerEventName>(name: K, fn: Listener<K>): () => void {
    const off = this.on(name, (e) => {
      off();
      fn(e);
    });
    return off;
  }

  off<K extends WorkerEventName>(name: K, fn: Listener<K>): void {
    this.listeners.get(name)?.delete(fn as Listener<WorkerEventName>);
  }

  emit<K extends WorkerEventName>(name: K, event: WorkerEvents[K]): void {
    if (name === 'error' && this.limiter) {
      this.limiter.report(event as WorkerEvents['error']);
      return;
    }
    this.deliver(name, event);
  }

  private deliver<K extends WorkerEventName>(name: K, event: WorkerEvents[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as Listener<K>)(event);
      } catch {
        // A faulty subscriber must not take the worker down.
      }
    }
  }

  listenerCount(name: WorkerEventName): number {
    return this.listeners.get(name)?.size ?? 0;
  }
}

interface ContextState {
  /** Monotonic time (ms) before which further errors of this context are held back. */
  quietUntil: number;
  /** Errors held back since the last event of this context; the latest one is kept for the summary. */
  held: number;
  latest: WorkerEvents['error'] | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Rate limit for `error` events, per context (e.g. `fetcher:claim:emails`, `heartbeat:extend-leases`):
 * the first error of a context is emitted at once; errors of the same context in the next `intervalMs`
 * are held back, and when the interval ends the latest of them is emitted with `suppressed` = how many
 * others were left out. A failing database thus produces at most one event per context per interval
 * (graphile-worker#224 logged ~1,500 lines a second during a failover), and nothing is lost silently:
 * events + Σ suppressed = errors. Uses a monotonic clock, so host clock jumps do not matter.
 */
export class ErrorRateLimiter {
  private readonly contexts = new Map<string, ContextState>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (event: WorkerEvents['error']) => void,
  ) {}

  report(event: WorkerEvents['error']): void {
    const now = performance.now();
    // Every loop fails at once when the database is down or read-only: those errors share one bucket,
    // so an outage or a failover yields one event per interval per worker, not one per loop.
    const key = isDatabaseUnavailable(event.error) ? UNAVAILABLE : event.context;
    const state = this.contexts.get(key);
    if (!state || (now >= state.quietUntil && state.held === 0)) {
      if (state?.timer) clearTimeout(state.timer);
      const fresh: ContextState = {
        quietUntil: now + this.intervalMs,
        held: 0,
        latest: undefined,
        timer: undefined,
      };
      this.contexts.set(key, fresh);
      this.emit(event);
      this.armSummary(key, fresh);
      return;
    }
    state.held++;
    state.latest = event;
  }

  /** Emits every held-back summary now (stop, or the limiter is replaced). */
  flush(): void {
    for (const [context, state] of this.contexts) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      if (state.held > 0) this.summarize(state);
      this.contexts.delete(context);
    }
  }

  /** At the end of the quiet interval: emit the summary if errors were held back, else forget the context. */
  private armSummary(context: string, state: ContextState): void {
    state.timer = setTimeout(
      () => {
        state.timer = undefined;
        if (this.contexts.get(context) !== state) return;
        if (state.held === 0) {
          this.contexts.delete(context);
          return;
        }
        this.summarize(state);
        // The summary opens a new quiet interval: a steady stream of errors yields one event per interval.
        state.quietUntil = performance.now() + this.intervalMs;
        this.armSummary(context, state);
      },
      Math.max(0, state.quietUntil - performance.now()),
    );
    state.timer.unref?.();
  }

  private summarize(state: ContextState): void {
    const latest = state.latest!;
    const suppressed = state.held - 1;
    state.held = 0;
    state.latest = undefined;
    this.emit(suppressed > 0 ? { ...latest, suppressed } : latest);
  }
}

/** The rate-limit bucket shared by all errors that mean the database cannot be used right now. */
const UNAVAILABLE = '\u0000database-unavailable';
