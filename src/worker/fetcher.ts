import { isDatabaseUnavailable } from '../db/executor.js';
import type { Job } from '../types.js';
import { BackoffTimer } from './backoff-timer.js';
import { every, realClock, type Clock, type TimerHandle } from './clock.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedQueue } from './queue-options.js';
import { QueueState, type Claimed, type FetchTarget } from './queue-state.js';
import { SlotShares } from './slot-shares.js';

export interface FetcherSlots {
  /** The worker's slots in all (its `concurrency`). */
  readonly concurrency: number;
  /** Free slots for `queue`: the smaller of its own and the worker's. */
  free(queue: ResolvedQueue): number;
  /** Whether `queue` may be claimed from at all (not while it does not exist yet: waitForQueues). */
  open(queue: ResolvedQueue): boolean;
}

export interface FetcherHooks {
  /**
   * Starts handlers for claimed jobs: one entry per handler call (a job, or a batch in batched mode), with
   * when it was claimed (the lease runs from then, not from when a slot freed up).
   */
  dispatch(target: FetchTarget, claims: Claimed[]): void;
  /** Gives prefetched jobs back (visible again at once, attempt refunded): at shutdown, or when stale. */
  release(target: FetchTarget, jobs: Job[]): Promise<void>;
}

/** Largest single claim. */
const MAX_CLAIM = 1_000;
/**
 * Longest wait between claims while they keep failing, unless twice the poll interval is longer: how late,
 * at worst, a worker that hears no wake-up notices that the database is back. A worker is to resume
 * within 5 s of the database's return (RELIABILITY.md, crash-restart); at one attempt per 2 s a long
 * outage still costs each worker next to nothing.
 */
const CLAIM_BACKOFF_MAX_MS = 2_000;
/** setTimeout's longest delay (about 24.8 days); a job due later is found by a claim before then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The one process-level fetcher (design guide: one fetcher fills free slots). Per queue it claims, in one
 * statement, the free slots plus a prefetch sized to the queue's recent throughput, so that a finished
 * handler's slot is refilled from memory at once while the next claim is already on its way: claims
 * overlap handler runs instead of alternating with them. A queue is asked again only when it may have
 * more work: after a NOTIFY for it, on each poll tick (polling is the floor), when its last claim filled
 * its limit, or when a job scheduled for later falls due. A claim that comes back short says when the
 * queue's earliest such job (delayed, retrying after a backoff, or whose lease runs out) is due, and this
 * worker's own retries and snoozes say so too: a timer wakes the queue then, so delayed jobs and retries
 * start on time rather than at the next poll. Runs are serialized; wake-ups that arrive during a run
 * coalesce into one more run. Prefetched jobs are leased like running ones: a buffered job older than
 * half its lease is given back, and so is the whole buffer at shutdown.
 *
 * With several queues, the slots are shared (SlotShares): a queue below its share of them claims jobs for
 * that share although other queues hold every slot, and each freed slot goes to the queue furthest behind
 * its share. So another queue's backlog or prefetch buffer never keeps a queue out for longer than it
 * takes slots to free up; prefetched jobs wait for a slot like everyone else's, they hold none.
 *
 * When a claim fails because the database is unavailable (down, restarting, read-only), claims back off
 * exponentially (BackoffTimer, from min(pollIntervalMs, 1 s) up to CLAIM_BACKOFF_MAX_MS or twice
 * pollIntervalMs, whichever is larger) and nothing else starts one early: not the poll timer, not a freed slot. Only a wake-up from LISTEN (a NOTIFY, or the LISTEN connection coming back)
 * ends a wait early, since it shows the database answers again.
 */
export class Fetcher {
  private readonly states: QueueState[];
  private readonly byName = new Map<string, QueueState>();
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private stopPolling: (() => void) | undefined;
  private retryTimer: TimerHandle | undefined;
  /** Paces claims while they fail; waiting = no claim starts until it calls back (or a wake-up ends it). */
  private readonly backoff: BackoffTimer;
  /**
   * Whether a wake-up may end the current wait. Not after a claim started that way failed too: otherwise
   * a stream of NOTIFYs while only claims fail (their connections cut, the listener's not) would set
   * the pace again.
   */
  private wakeEndsBackoff = false;
  /** The next run was started by a wake-up that ended a wait. */
  private earlyRetry = false;
  private next = 0;
  private readonly releases = new Set<Promise<void>>();
  /** With more than one queue: who gets the next free slot, and how many jobs a queue may claim ahead. */
  private readonly shares: SlotShares | undefined;
  private readonly hasWork = (i: number): boolean => {
    const s = this.states[i]!;
    return s.buffer.length > 0 || s.maybeMore || this.shares!.running(i) > 0;
  };
  /** Jobs of the queue wait in memory or may be claimable: it wants slots (see SlotShares.joined). */
  private readonly wanting = (i: number): boolean => {
    const s = this.states[i]!;
    return s.buffer.length > 0 || s.maybeMore;
  };
  private readonly canStart = (i: number): boolean => {
    const s = this.states[i]!;
    return s.buffer.length > 0 && this.slots.free(s.target.queue) > 0;
  };

  constructor(
    targets: readonly FetchTarget[],
    private readonly slots: FetcherSlots,
    private readonly workerId: string,
    private readonly pollIntervalMs: number,
    private readonly hooks: FetcherHooks,
    private readonly events: WorkerEventEmitter,
    private readonly clock: Clock = realClock,
  ) {
    this.states = targets.map((t, i) => new QueueState(t, i));
    if (targets.length > 1)
      this.shares = new SlotShares(
        targets.map((t) => t.queue),
        slots.concurrency,
      );
    for (const s of this.states) this.byName.set(s.target.queue.name, s);
    this.backoff = new BackoffTimer(
      Math.min(pollIntervalMs, 1_000),
      Math.max(CLAIM_BACKOFF_MAX_MS, 2 * pollIntervalMs),
      () => this.schedule(),
      clock,
    );
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopPolling = every(this.clock, this.pollIntervalMs, () => {
      this.releaseStale();
      this.mark(null);
      this.schedule();
    });
    this.mark(null);
    this.schedule();
  }

  /**
   * Stops claiming. Resolves once a claim in progress has finished (its jobs are dispatched or buffered)
   * and every buffered job has been given back.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopPolling?.();
    this.stopPolling = undefined;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const s of this.states) this.clock.clearTimeout(s.dueTimer);
    this.backoff.cancel();
    await this.running;
    for (const s of this.states) this.giveBack(s, s.buffer.splice(0));
    while (this.releases.size > 0) await Promise.all([...this.releases]);
  }

  /** Jobs claimed and waiting in memory for a free slot. */
  get buffered(): number {
    let n = 0;
    for (const s of this.states) for (const b of s.buffer) n += b.batch.length;
    return n;
  }

  /**
   * A hint from LISTEN that `queue` (or every queue, for null: the connection was (re)established) may
   * have claimable jobs. It came over a live connection, so it also ends a wait after failed claims.
   */
  wake(queue: string | null): void {
    this.mark(queue);
    if (this.backoff.waiting && this.wakeEndsBackoff) {
      this.backoff.cancel();
      this.earlyRetry = true;
    }
    this.schedule();
  }

  /**
   * Asks `queue` again: something no NOTIFY announces may have made more of it claimable (a grouped job's
   * outcome lets its group move on; a scheduled job fell due). Unlike a wake-up from LISTEN, it does not
   * end a wait after failed claims.
   */
  askAgain(queue: string): void {
    this.mark(queue);
    this.schedule();
  }

  /**
   * A job of `queue` becomes claimable in `ms` (by the database's clock): wake the queue then. Only the
   * earliest such time is kept per queue; when it comes, the claim it starts reports the next one.
   */
  dueIn(queue: string, ms: number): void {
    const s = this.byName.get(queue);
    if (!s || this.stopped || !(ms >= 0)) return;
    // A millisecond late rather than early: a claim that runs a moment before the job is due misses it.
    const delay = Math.min(Math.ceil(ms) + 1, MAX_TIMER_MS);
    const at = this.clock.now() + delay;
    if (s.dueTimer !== undefined && s.dueAt <= at) return;
    this.clock.clearTimeout(s.dueTimer);
    s.dueAt = at;
    s.dueTimer = this.clock.setTimeout(() => {
      s.dueTimer = undefined;
      s.dueAt = Infinity;
      this.askAgain(queue);
    }, delay);
  }

  private mark(queue: string | null): void {
    for (const s of this.states) {
      if (queue !== null && s.target.queue.name !== queue) continue;
      if (this.shares && !this.wanting(s.index)) this.shares.joined(s.index, this.wanting);
      s.maybeMore = true;
      s.wakes++;
    }
  }

  /**
   * A slot of `queue` was freed: by a handler call that held it `ranMs` (it counts toward the queue's
   * throughput and share), or, without `ranMs`, by outcome writes catching up. Refill it from memory,
   * then top up.
   */
  slotFreed(queue: string, ranMs?: number): void {
    if (ranMs !== undefined) {
      const s = this.byName.get(queue);
      s?.completed(this.clock.now());
      if (s) this.shares?.finished(s.index, ranMs);
    }
    this.drainBuffers();
    this.schedule();
  }

  private schedule(): void {
    // While backing off, the marks stay set and the backoff's callback claims them.
    if (this.stopped || this.backoff.waiting) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  /**
   * Starts buffered jobs in free slots: each slot, with more than one queue, to the queue furthest behind
   * its share (SlotShares), however many jobs other queues hold in memory. Synchronous: no slot waits for
   * I/O.
   */
  private drainBuffers(): void {
    if (this.stopped) return;
    const shares = this.shares;
    if (!shares) {
      const s = this.states[0]!;
      const free = s.buffer.length === 0 ? 0 : this.slots.free(s.target.queue);
      if (free > 0) this.hooks.dispatch(s.target, s.buffer.splice(0, free));
      return;
    }
    shares.update(this.hasWork);
    for (let i = shares.pick(this.canStart); i >= 0; i = shares.pick(this.canStart)) {
      const s = this.states[i]!;
      shares.started(i);
      this.hooks.dispatch(s.target, s.buffer.splice(0, 1));
    }
  }

  private async loop(): Promise<void> {
    const early = this.earlyRetry;
    this.earlyRetry = false;
    do {
      this.again = false;
      this.drainBuffers();
      // Round-robin the queue asked first, so no queue's claims always wait for the others'.
      const n = this.states.length;
      const start = this.next++ % n;
      for (let i = 0; i < n && !this.stopped; i++) {
        const s = this.states[(start + i) % n]!;
        if (!s.maybeMore || !this.slots.open(s.target.queue)) continue;
        // Slots to claim for: the free ones, or, while other queues hold them, the queue's share of them
        // (they start as slots free up, before other queues' prefetched jobs; see drainBuffers).
        this.shares?.update(this.hasWork);
        const room = Math.max(this.slots.free(s.target.queue), this.shares?.owed(s.index) ?? 0);
        const target = s.prefetchTarget(this.clock.now());
        const want = room + target - s.buffer.length;
        // Top up only when the buffer does not cover those slots or has run down to half its target: one
        // claim of many jobs costs far less than many claims of a few.
        if (want <= 0 || (s.buffer.length >= room && s.buffer.length > target / 2)) continue;
        const limit = Math.min(want, MAX_CLAIM);
        const wakesBefore = s.wakes;
        try {
          const { batches, nextDueMs } = await this.claim(s.target, limit);
          this.backoff.succeeded();
          if (nextDueMs !== null) this.dueIn(s.target.queue.name, nextDueMs);
          // Fewer than asked: the queue looked empty to this claim. A wake-up that arrived meanwhile (its
          // job may have committed after our snapshot) keeps the queue marked, so it is asked again.
          if (batches.length < limit && s.wakes === wakesBefore) s.maybeMore = false;
          const at = this.clock.now();
          for (const batch of batches) s.buffer.push({ batch, at });
          if (this.stopped) break;
          this.drainBuffers();
        } catch (error) {
          this.events.emit('error', { error, context: `fetcher:claim:${s.target.queue.name}` });
          if (this.stopped) return;
          if (isDatabaseUnavailable(error)) {
            // The queue stays marked: the backoff's callback claims it again.
            this.wakeEndsBackoff = !early;
            this.backoff.failed();
          } else {
            // Any other failure (a statement error on one queue) gets one prompt retry and does not hold
            // up the other queues' claims.
            this.retryTimer ??= this.clock.setTimeout(
              () => {
                this.retryTimer = undefined;
                this.mark(null);
                this.schedule();
              },
              Math.min(this.pollIntervalMs, 1_000),
            );
          }
          return;
        }
      }
    } while (this.again && !this.stopped);
  }

  private async claim(
    target: FetchTarget,
    limit: number,
  ): Promise<{ batches: Job[][]; nextDueMs: number | null }> {
    const { queue, store } = target;
    if (queue.batchHandler) {
      return store.claimBatches({
        batchSize: queue.batchSize,
        maxBatches: limit,
        leaseMs: queue.leaseMs,
        workerId: this.workerId,
      });
    }
    const { jobs, nextDueMs } = await store.claim({ limit, leaseMs: queue.leaseMs, workerId: this.workerId });
    return { batches: jobs.map((j) => [j]), nextDueMs };
  }

  /** Gives back buffered jobs that have waited half their lease (handlers slowed down since the claim). */
  private releaseStale(): void {
    const now = this.clock.now();
    for (const s of this.states) {
      const limit = s.target.queue.leaseMs / 2;
      const stale = s.buffer.filter((b) => now - b.at > limit);
      if (stale.length === 0) continue;
      s.buffer.splice(0, s.buffer.length, ...s.buffer.filter((b) => now - b.at <= limit));
      this.giveBack(s, stale);
    }
  }

  private giveBack(s: QueueState, entries: Claimed[]): void {
    if (entries.length === 0) return;
    const p = this.hooks
      .release(
        s.target,
        entries.flatMap((b) => b.batch),
      )
      .catch((error: unknown) => {
        // Not given back: the leases expire and the jobs are redelivered then.
        this.events.emit('error', { error, context: `fetcher:release:${s.target.queue.name}` });
      })
      .finally(() => this.releases.delete(p));
    this.releases.add(p);
  }
}
