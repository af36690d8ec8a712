import type { JobStore } from '../store/job-store.js';
import type { Job } from '../types.js';
import type { TimerHandle } from './clock.js';
import type { ResolvedQueue } from './queue-options.js';

export interface FetchTarget {
  queue: ResolvedQueue;
  /** The queue's jobs, through the worker's own connections. */
  store: JobStore;
}

export interface Claimed {
  batch: Job[];
  /** The fetcher's Clock.now() when it was claimed (monotonic: immune to host clock changes). */
  at: number;
}

/**
 * What the fetcher knows of a queue's claimable jobs:
 * - `MAYBE_MORE`      it may have some (a NOTIFY, a poll tick, a due time, a group moving on; or its last
 *                     claim filled its limit, or failed): the next pass claims from it if it has room
 * - `CLAIMING`        a claim for it is on its way
 * - `CLAIMING_WOKEN`  a claim is on its way and a wake-up came meanwhile: its job may have committed after
 *                     the claim's snapshot, so whatever the claim brings back the queue is asked again
 * - `DRAINED`         its last claim came back short and nothing has woken it since: no claim until then
 */
export type QueueMode = 'MAYBE_MORE' | 'CLAIMING' | 'CLAIMING_WOKEN' | 'DRAINED';

const QUEUE_TRANSITIONS: Readonly<Record<QueueMode, readonly QueueMode[]>> = {
  MAYBE_MORE: ['MAYBE_MORE', 'CLAIMING'],
  CLAIMING: ['CLAIMING_WOKEN', 'MAYBE_MORE', 'DRAINED'],
  CLAIMING_WOKEN: ['CLAIMING_WOKEN', 'MAYBE_MORE'],
  DRAINED: ['MAYBE_MORE'],
};

/** Recent throughput is an exponentially decaying count of completions with this time constant. */
const RATE_WINDOW_MS = 1_000;

/**
 * What the fetcher keeps per queue: its mode (above), its buffer of claimed jobs, the timer that wakes
 * it when its earliest scheduled job is due, and its recent throughput (which sizes its prefetch).
 */
export class QueueState {
  readonly buffer: Claimed[] = [];
  private current: QueueMode = 'MAYBE_MORE';
  /** Wakes the queue when its earliest scheduled job is due (see Fetcher.dueIn), and when that is. */
  due: { timer: TimerHandle; at: number } | undefined;
  /** Decaying completion count (≈ completions in the last RATE_WINDOW_MS when steady). */
  private score = 0;
  private scoredAt = 0;

  constructor(
    readonly target: FetchTarget,
    readonly index: number,
  ) {}

  get mode(): QueueMode {
    return this.current;
  }

  /** Jobs wait in memory, or may be claimable: the queue wants slots (see SlotShares.joined). */
  get wanting(): boolean {
    return this.buffer.length > 0 || this.current !== 'DRAINED';
  }

  /** The queue may have claimable jobs (see the modes). */
  mark(): void {
    this.to(
      this.current === 'CLAIMING' || this.current === 'CLAIMING_WOKEN' ? 'CLAIMING_WOKEN' : 'MAYBE_MORE',
    );
  }

  claimStarted(): void {
    this.to('CLAIMING');
  }

  /** The claim came back; `short`: with fewer jobs than asked (the queue looked empty to it). */
  claimEnded(short: boolean): void {
    this.to(short && this.current === 'CLAIMING' ? 'DRAINED' : 'MAYBE_MORE');
  }

  /** The claim failed: the queue keeps its claim due. */
  claimFailed(): void {
    this.to('MAYBE_MORE');
  }

  private to(next: QueueMode): void {
    if (!QUEUE_TRANSITIONS[this.current].includes(next))
      throw new Error(`fetcher: queue ${this.target.queue.name} cannot go from ${this.current} to ${next}`);
    this.current = next;
  }

  completed(now: number): void {
    this.score = this.decayed(now) + 1;
    this.scoredAt = now;
  }

  /**
   * How many jobs to hold beyond the free slots: about the queue's recent throughput over a horizon of
   * at most one second and a quarter of the lease, capped by the queue's `prefetch`. Slow handlers
   * prefetch (almost) nothing, so a buffered job never waits long with its lease running.
   */
  prefetchTarget(now: number): number {
    const q = this.target.queue;
    if (q.prefetch === 0) return 0;
    const horizonMs = Math.min(RATE_WINDOW_MS, q.leaseMs / 4);
    return Math.min(q.prefetch, Math.floor((this.decayed(now) * horizonMs) / RATE_WINDOW_MS));
  }

  private decayed(now: number): number {
    if (this.score === 0) return 0;
    return this.score * Math.exp(-(now - this.scoredAt) / RATE_WINDOW_MS);
  }
}
