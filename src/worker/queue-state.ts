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

/** Recent throughput is an exponentially decaying count of completions with this time constant. */
const RATE_WINDOW_MS = 1_000;

/** What the fetcher keeps per queue: its buffer of claimed jobs, its wake-ups, its recent throughput. */
export class QueueState {
  readonly buffer: Claimed[] = [];
  /** The queue may have claimable jobs: after a NOTIFY, a poll tick, or a claim that filled its limit. */
  maybeMore = true;
  /** Wake-ups counted, so one that arrives while a claim is in flight is never lost. */
  wakes = 0;
  /** Wakes the queue when its earliest scheduled job is due (see Fetcher.dueIn), and when that is. */
  dueTimer: TimerHandle | undefined;
  dueAt = Infinity;
  /** Decaying completion count (≈ completions in the last RATE_WINDOW_MS when steady). */
  private score = 0;
  private scoredAt = 0;

  constructor(
    readonly target: FetchTarget,
    readonly index: number,
  ) {}

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
