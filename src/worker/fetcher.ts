import type { Queue } from '../client/queue.js';
import type { Job } from '../types.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedQueue } from './options.js';

export interface FetcherSlots {
  /** Free slots for `queue`: the smaller of its own and the worker's. */
  free(queue: ResolvedQueue): number;
}

export interface FetchTarget {
  queue: ResolvedQueue;
  handle: Queue<unknown>;
}

/**
 * The one process-level fetcher (design guide: one fetcher fills free slots). It claims, per queue, as
 * many jobs (or batches) as there are free slots, in one statement. A queue is asked again only when it
 * may have more work: after a NOTIFY for it, on each poll tick (polling is the floor, and what finds
 * delayed jobs and expired leases), or when its last claim filled every slot. Runs are serialized; wake-ups
 * that arrive during a run coalesce into one more run.
 */
export class Fetcher {
  private readonly maybeMore = new Map<string, boolean>();
  /** Wake-ups per queue, so a wake that arrives while a claim is in flight is never lost. */
  private readonly wakes = new Map<string, number>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(
    private readonly targets: readonly FetchTarget[],
    private readonly slots: FetcherSlots,
    private readonly workerId: string,
    private readonly pollIntervalMs: number,
    private readonly dispatch: (target: FetchTarget, batches: Job[][]) => void,
    private readonly events: WorkerEventEmitter,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pollTimer = setInterval(() => this.wake(null), this.pollIntervalMs);
    this.wake(null);
  }

  /** Stops claiming. Resolves once a claim in progress has finished (its jobs are dispatched). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
  }

  /** A hint that `queue` (or every queue, for null) may have claimable jobs. */
  wake(queue: string | null): void {
    for (const t of this.targets) {
      if (queue !== null && t.queue.name !== queue) continue;
      this.maybeMore.set(t.queue.name, true);
      this.wakes.set(t.queue.name, (this.wakes.get(t.queue.name) ?? 0) + 1);
    }
    this.schedule();
  }

  /** A slot was freed: claim more for queues that may still have work. */
  slotFreed(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      // Round-robin the starting queue so one busy queue cannot starve the others of global slots.
      const n = this.targets.length;
      const start = this.next++ % n;
      for (let i = 0; i < n && !this.stopped; i++) {
        const target = this.targets[(start + i) % n]!;
        if (!this.maybeMore.get(target.queue.name)) continue;
        const free = this.slots.free(target.queue);
        if (free <= 0) continue;
        const name = target.queue.name;
        const wakesBefore = this.wakes.get(name) ?? 0;
        try {
          const batches = await this.claim(target, free);
          // Fewer than asked: the queue looked empty to this claim. A wake-up that arrived meanwhile (its
          // job may have committed after our snapshot) keeps the queue marked, so it is asked again.
          if (batches.length < free && (this.wakes.get(name) ?? 0) === wakesBefore)
            this.maybeMore.set(name, false);
          if (batches.length > 0) this.dispatch(target, batches);
        } catch (error) {
          this.events.emit('error', { error, context: `fetcher:claim:${target.queue.name}` });
          // Back off: the poll timer (or this retry) tries again; never a tight error loop.
          this.retryTimer ??= setTimeout(
            () => {
              this.retryTimer = undefined;
              this.wake(null);
            },
            Math.min(this.pollIntervalMs, 1_000),
          );
          return;
        }
      }
    } while (this.again && !this.stopped);
  }

  private async claim(target: FetchTarget, free: number): Promise<Job[][]> {
    const { queue, handle } = target;
    if (queue.batchHandler) {
      return handle.claimBatched({
        batchSize: queue.batchSize,
        maxBatches: Math.min(free, 1000),
        leaseMs: queue.leaseMs,
        workerId: this.workerId,
      });
    }
    const jobs = await handle.claim({
      limit: Math.min(free, 10_000),
      leaseMs: queue.leaseMs,
      workerId: this.workerId,
    });
    return jobs.map((j) => [j]);
  }
}
