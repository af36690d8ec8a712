import type { Job } from '../types.js';

/** Everything the worker reports. Metrics and tracing subscribe here; nothing else is an observability hook. */
export interface WorkerEvents {
  'worker:started': { workerId: string; queues: string[] };
  'worker:stopped': { workerId: string; abandoned: number };
  /** The host clock differs from the database clock by more than 60 s (checked at each registry heartbeat). */
  'worker:clock-skew': { workerId: string; skewMs: number };
  'job:claimed': { queue: string; job: Job };
  'job:started': { queue: string; job: Job };
  'job:succeeded': { queue: string; job: Job; durationMs: number };
  'job:retried': { queue: string; job: Job; delayMs: number; error: string };
  'job:snoozed': { queue: string; job: Job; delayMs: number };
  /** The handler threw (or timed out); the decided follow-up is reported as retried or dead. */
  'job:failed': { queue: string; job: Job; error: unknown; timedOut: boolean };
  'job:dead': { queue: string; job: Job; error: string };
  'job:timed-out': { queue: string; job: Job; timeoutMs: number };
  /** Our write was fenced off, or a heartbeat found the job taken over: the result was not recorded. */
  'job:lease-lost': { queue: string; job: Job; status: 'stolen' | 'acked' | 'fenced' };
  /** Released by graceful shutdown, visible again at once with its attempt refunded. */
  'job:released': { queue: string; job: Job };
  'listener:connected': { channel: string };
  'listener:reconnected': { channel: string; attempt: number };
  'listener:trigger-repaired': { queue: string };
  'maintenance:workers-released': { workers: string[]; jobs: Record<string, number> };
  'maintenance:stale-recovered': { queue: string; retried: number; dead: number };
  'maintenance:exhausted-reaped': { queue: string; count: number };
  'maintenance:leader': { workerId: string; leader: boolean };
  'cron:fired': { name: string; queue: string; tick: Date; jobId: string | null; skipped: boolean };
  /** Unexpected errors in the worker's own loops. They never crash the process; loops back off and continue. */
  error: { error: unknown; context: string };
}

export type WorkerEventName = keyof WorkerEvents;
type Listener<K extends WorkerEventName> = (event: WorkerEvents[K]) => void;

/**
 * One typed event stream. Unlike Node's EventEmitter, an `error` event without listeners is not thrown,
 * and a listener that throws cannot break the worker.
 */
export class WorkerEventEmitter {
  private readonly listeners = new Map<WorkerEventName, Set<Listener<WorkerEventName>>>();

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
