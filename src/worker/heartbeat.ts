import type { JobStore } from '../store/job-store.js';
import type { Job } from '../types.js';
import { every, realClock, type Clock } from './clock.js';
import type { WorkerEventEmitter } from './events.js';
import type { JobController } from './abort.js';
import { JobAbortError } from './runner.js';
import type { ResolvedQueue } from './queue-options.js';

/** One running handler invocation: a single job, or a batch in batched mode. */
export interface Running {
  queue: ResolvedQueue;
  /** The queue's jobs, through the worker's own connections: lease extensions and outcomes go there. */
  store: JobStore;
  jobs: Job[];
  controller: JobController;
  /**
   * When the run's jobs were claimed, and per job id when its lease was last extended (the map is created
   * by the first extension), on the worker's monotonic clock (Clock.now), so a host clock that jumps
   * cannot make a lease look older or younger.
   */
  claimedAt: number;
  extendedAt?: Map<string, number>;
}

/** When `job`'s lease was last confirmed: its latest extension, or the claim. */
export function confirmedAt(r: Running, id: string): number {
  return r.extendedAt?.get(id) ?? r.claimedAt;
}

/** Records that `id`'s lease was extended at `now`. */
export function confirmLease(r: Running, id: string, now: number): void {
  (r.extendedAt ??= new Map()).set(id, now);
}

/**
 * Keeps the leases of running jobs alive: every `intervalMs` (a third of the shortest lease), one
 * extendLeases call per queue. A job reported `stolen` or `acked` has been taken over: its handler's
 * signal is aborted. If extensions keep failing (database unreachable), handlers are aborted before their
 * lease can run out, so a worker cut off from the database never keeps working on a job someone else owns.
 */
export class LeaseHeartbeat {
  private cancelTimer: (() => void) | undefined;
  private busy = false;

  constructor(
    private readonly running: () => Iterable<Running>,
    private readonly intervalMs: number,
    private readonly events: WorkerEventEmitter,
    private readonly clock: Clock = realClock,
  ) {}

  start(): void {
    this.cancelTimer ??= every(this.clock, this.intervalMs, () => void this.beat());
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  async beat(): Promise<void> {
    if (this.busy) {
      // The previous extension has not answered (a hung connection gives no error): its jobs' leases
      // are running out all the same.
      const byQueue = new Map<string, Running[]>();
      for (const r of this.running()) byQueue.set(r.queue.name, [...(byQueue.get(r.queue.name) ?? []), r]);
      for (const list of byQueue.values()) this.abortStale(list, 'lease could not be extended (no answer)');
      return;
    }
    this.busy = true;
    try {
      const byQueue = new Map<string, Running[]>();
      for (const r of this.running()) {
        if (r.controller.aborted) continue;
        const list = byQueue.get(r.queue.name) ?? [];
        list.push(r);
        byQueue.set(r.queue.name, list);
      }
      await Promise.all([...byQueue.values()].map((list) => this.extend(list)));
    } finally {
      this.busy = false;
    }
  }

  private async extend(list: Running[]): Promise<void> {
    const { queue, store } = list[0]!;
    const owner = new Map<string, Running>();
    const jobs: Job[] = [];
    for (const r of list) {
      for (const j of r.jobs) {
        owner.set(j.id, r);
        jobs.push(j);
      }
    }
    const now = this.clock.now();
    try {
      const updates = await store.extendLeases(
        jobs.map((j) => ({ id: j.id, attempts: j.attempts })),
        queue.leaseMs,
      );
      // A run that ended while the extension was on its way may already have written its outcome (an ack
      // or a retry ends the lease): what the extension found says nothing about a lease lost.
      const still = new Set(this.running());
      for (const u of updates) {
        const r = owner.get(u.id);
        if (!r || !still.has(r)) continue;
        if (u.status === 'updated') {
          confirmLease(r, u.id, now);
          continue;
        }
        const job = r.jobs.find((j) => j.id === u.id)!;
        this.events.emit('job:lease-lost', { queue: queue.name, job, status: u.status });
        r.controller.abort(new JobAbortError('lease-lost', `lease lost (${u.status}) for job ${u.id}`));
      }
    } catch (error) {
      this.events.emit('error', { error, context: 'heartbeat:extend-leases' });
      this.abortStale(list, 'lease could not be extended (database unreachable)');
    }
  }

  /** Aborts runs whose lease could expire before the next beat (10% margin): they will be redelivered anyway. */
  private abortStale(list: Running[], message: string): void {
    const now = this.clock.now();
    for (const r of list) {
      if (r.controller.aborted) continue;
      const oldest = Math.min(...r.jobs.map((j) => confirmedAt(r, j.id)));
      if (now - oldest > r.queue.leaseMs * 0.9 - this.intervalMs) {
        r.controller.abort(new JobAbortError('lease-lost', message));
      }
    }
  }
}
