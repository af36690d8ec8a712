import { isDatabaseUnavailable } from '../core/connection-errors.js';
import type { Job } from '../types.js';
import { BackoffTimer } from './backoff-timer.js';
import { every, realClock, type Clock, type TimerHandle } from './clock.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedQueue } from './queue-options.js';
import { QueueState, type Claimed, type FetchTarget } from './queue-state.js';
import { SettleList } from './settle-list.js';
import { SlotShares } from './slot-shares.js';
import type { DueQueue } from '../db/queries/queue-due.js';

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
  /**
   * The poll over all queues (see the class comment): settles `settle`, then says which queues are due
   * within a poll interval. Without it, every poll tick asks every queue (one claim each).
   */
  poll?(settle: readonly string[]): Promise<DueQueue[]>;
}

/** Largest single claim. */
const MAX_CLAIM = 1_000;
/**
 * Longest wait between claims while they keep failing, unless twice the poll interval is longer: how late,
 * at worst, a worker that hears no wake-up notices that the database is back. A worker is to resume
 * within 5 s of the database's return (after a crash or restart); at one attempt per 2 s a long
 * outage still costs each worker next to nothing.
 */
const CLAIM_BACKOFF_MAX_MS = 2_000;
/** setTimeout's longest delay (about 24.8 days); a job due later is found by a claim before then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The fetcher's mode:
 * - `STOPPED`   not started, or stopped: no timer of its own pending, no claim on its way
 * - `IDLE`      started, no pass running: the next reason to claim (a wake-up, a poll tick, a freed slot,
 *               a due time) starts one at once
 * - `CLAIMING`  a pass runs: it starts buffered jobs in free slots, then claims, one queue after the other,
 *               for each queue that may have jobs and has room. `again`: something asked for a pass while
 *               this one ran (a freed slot, a mark), so it goes round once more instead of ending.
 *               `afterWait`: the pass was started by a wake-up that ended a backoff wait.
 * - `WAITING`   a claim failed because the database is unavailable: no claim starts until the backoff
 *               timer calls back, or, when `wakeEnds`, a wake-up from LISTEN ends the wait early (it came
 *               over a live connection). Not after a pass started that way failed too: a stream of
 *               NOTIFYs while only claims fail (their connections cut, the listener's not) would otherwise
 *               set the pace.
 * - `STOPPING`  stop() was called while a pass ran; the pass ends at its next step, then `STOPPED`
 */
type FetcherMode =
  | { readonly name: 'STOPPED' }
  | { readonly name: 'IDLE' }
  | { readonly name: 'CLAIMING'; again: boolean; readonly afterWait: boolean }
  | { readonly name: 'WAITING'; readonly wakeEnds: boolean }
  | { readonly name: 'STOPPING' };

const TRANSITIONS: Readonly<Record<FetcherMode['name'], readonly FetcherMode['name'][]>> = {
  STOPPED: ['IDLE'],
  IDLE: ['CLAIMING', 'STOPPED'],
  CLAIMING: ['IDLE', 'WAITING', 'STOPPING'],
  WAITING: ['CLAIMING', 'STOPPED'],
  STOPPING: ['STOPPED'],
};

/**
 * The one process-level fetcher: one fetcher fills free slots. Per queue it claims, in one statement,
 * the free slots plus a prefetch sized to the queue's recent throughput, so that a finished handler's
 * slot is refilled from memory at once while the next claim is already on its way: claims overlap
 * handler runs instead of alternating with them. A queue is asked again only when it may have more work
 * (QueueMode): after a NOTIFY for it, on each poll tick (polling is the floor), when its last claim filled
 * its limit, or when a job scheduled for later falls due. A claim that comes back short says when the
 * queue's earliest such job (delayed, retrying after a backoff, or whose lease runs out) is due, and this
 * worker's own retries and snoozes say so too: a timer wakes the queue then, so delayed jobs and retries
 * start on time rather than at the next poll. Passes are serialized; wake-ups that arrive during a pass
 * coalesce into one more pass. Prefetched jobs are leased like running ones: a buffered job older than
 * half its lease is given back, and so is the whole buffer at shutdown.
 *
 * With several queues, the slots are shared (SlotShares): a queue below its share of them claims jobs for
 * that share although other queues hold every slot, and each freed slot goes to the queue furthest behind
 * its share. So another queue's backlog or prefetch buffer never keeps a queue out for longer than it
 * takes slots to free up; prefetched jobs wait for a slot like everyone else's, they hold none.
 *
 * With the `poll` hook, a poll tick does not ask every queue: one statement reads the schema-wide summary of
 * which queues may have claimable jobs (_queue_due, migration 0010) and marks only those, and sets due
 * timers for those due before the next tick. A queue whose claim came back short is settled in the next
 * poll (its bound recomputed), so an idle queue costs nothing per tick, however many a worker serves.
 * NOTIFY wake-ups are unchanged; a (re)connected listener triggers a poll instead of asking every queue.
 *
 * When a claim fails because the database is unavailable (down, restarting, read-only), claims back off
 * exponentially (BackoffTimer, from min(pollIntervalMs, 1 s) up to CLAIM_BACKOFF_MAX_MS or twice
 * pollIntervalMs, whichever is larger) and nothing else starts one early: not the poll timer, not a freed
 * slot. Only a wake-up from LISTEN (a NOTIFY, or the LISTEN connection coming back) ends a wait early,
 * since it shows the database answers again. Any other claim failure (a statement error on one queue)
 * gets one prompt retry and does not hold up the other queues.
 *
 * Invariants (transitions are asserted against TRANSITIONS and QUEUE_TRANSITIONS, the second invariant
 * whenever a pass ends):
 * - A pass runs exactly in modes CLAIMING and STOPPING (`pass` holds it until it has settled).
 * - At most one queue is CLAIMING or CLAIMING_WOKEN, and only during a pass; between passes every queue
 *   is MAYBE_MORE or DRAINED.
 * - A wake-up is never lost: a queue woken during its claim (CLAIMING_WOKEN) is asked again, whatever
 *   the claim brought back; only a short claim with no wake-up meanwhile makes a queue DRAINED.
 * - A DRAINED queue is claimed from again only after a mark: a wake-up, a poll tick, its due timer, a
 *   grouped job's outcome (askAgain), or the retry after a failed statement.
 * - WAITING: the backoff timer is pending and nothing but it (or a wake-up, when `wakeEnds`) starts a
 *   claim; queues stay marked meanwhile, so the pass it starts claims them.
 * - STOPPED and STOPPING: no timer of the fetcher's is pending (poll, retry, due, backoff) and no job is
 *   dispatched; once stop() has resolved, no job is buffered and every release has been written.
 */
export class Fetcher {
  private readonly states: QueueState[];
  private readonly byName = new Map<string, QueueState>();
  private mode: FetcherMode = { name: 'STOPPED' };
  /** The pass running, in modes CLAIMING and STOPPING. */
  private pass: Promise<void> | undefined;
  private stopPolling: (() => void) | undefined;
  /** Marks every queue once more after a claim failed with a statement error. */
  private retryTimer: TimerHandle | undefined;
  /** Paces claims while they fail (mode WAITING). */
  private readonly backoff: BackoffTimer;
  private next = 0;
  /** Queues whose last claim came back short: the next poll settles them. */
  private readonly settles: SettleList;
  private polling: Promise<void> | undefined;
  private readonly releases = new Set<Promise<void>>();
  /** With more than one queue: who gets the next free slot, and how many jobs a queue may claim ahead. */
  private readonly shares: SlotShares | undefined;
  private readonly hasWork = (i: number): boolean => this.states[i]!.wanting || this.shares!.running(i) > 0;
  /** Jobs of the queue wait in memory or may be claimable: it wants slots (see SlotShares.joined). */
  private readonly wanting = (i: number): boolean => this.states[i]!.wanting;
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
    this.settles = new SettleList(targets.map((t) => t.queue.name));
    if (targets.length > 1)
      this.shares = new SlotShares(
        targets.map((t) => t.queue),
        slots.concurrency,
      );
    for (const s of this.states) this.byName.set(s.target.queue.name, s);
    this.backoff = new BackoffTimer(
      Math.min(pollIntervalMs, 1_000),
      Math.max(CLAIM_BACKOFF_MAX_MS, 2 * pollIntervalMs),
      () => this.waitEnded(false),
      clock,
    );
  }

  /** The fetcher's mode (see FetcherMode): for tests and diagnostics. */
  get modeName(): FetcherMode['name'] {
    return this.mode.name;
  }

  /** A queue's mode (see QueueMode): for tests and diagnostics. */
  queueMode(queue: string): QueueState['mode'] | undefined {
    return this.byName.get(queue)?.mode;
  }

  private get stopped(): boolean {
    return this.mode.name === 'STOPPED' || this.mode.name === 'STOPPING';
  }

  private setMode(next: FetcherMode): void {
    if (!TRANSITIONS[this.mode.name].includes(next.name))
      throw new Error(`fetcher: cannot go from ${this.mode.name} to ${next.name}`);
    if (next.name !== 'CLAIMING' && next.name !== 'STOPPING')
      for (const s of this.states)
        if (s.mode === 'CLAIMING' || s.mode === 'CLAIMING_WOKEN')
          throw new Error(`fetcher: queue ${s.target.queue.name} is ${s.mode} outside a pass`);
    this.mode = next;
  }

  start(): void {
    if (this.mode.name !== 'STOPPED') return;
    this.setMode({ name: 'IDLE' });
    this.stopPolling = every(this.clock, this.pollIntervalMs, () => {
      this.releaseStale();
      if (this.hooks.poll) return this.pollNow();
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
    const m = this.mode.name;
    if (m === 'IDLE' || m === 'WAITING') this.setMode({ name: 'STOPPED' });
    else if (m === 'CLAIMING') this.setMode({ name: 'STOPPING' });
    this.stopPolling?.();
    this.stopPolling = undefined;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const s of this.states) {
      this.clock.clearTimeout(s.due?.timer);
      s.due = undefined;
    }
    this.backoff.cancel();
    await this.pass;
    await this.polling;
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
   * have claimable jobs. It came over a live connection, so it also ends a wait after failed claims
   * (unless that wait follows a pass a wake-up started: see FetcherMode).
   */
  wake(queue: string | null): void {
    // With the poll, the summary knows every queue's due work: one statement instead of a claim per queue.
    if (queue === null && this.hooks.poll) this.pollNow();
    else this.mark(queue);
    if (this.mode.name === 'WAITING' && this.mode.wakeEnds) {
      this.backoff.cancel();
      this.waitEnded(true);
      return;
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
    if (s.due && s.due.at <= at) return;
    this.clock.clearTimeout(s.due?.timer);
    const timer = this.clock.setTimeout(() => {
      s.due = undefined;
      this.askAgain(queue);
    }, delay);
    s.due = { timer, at };
  }

  /** Runs the poll now (unless one is on its way): marks the queues it finds due, times the others. */
  pollNow(): void {
    const poll = this.hooks.poll;
    // While claims back off (WAITING) the database is away: the backoff's pass asks the marked queues.
    if (!poll || this.polling || this.stopped || this.mode.name === 'WAITING') return;
    const settle = this.settles.take();
    const p = poll(settle)
      .then(
        (due) => {
          if (this.stopped) return;
          for (const d of due) {
            if (!this.byName.has(d.queue)) continue;
            if (d.dueMs > 0) {
              this.dueIn(d.queue, d.dueMs);
              continue;
            }
            // Its last claim found nothing and it waits for its settle: only a wake says there is more.
            if (!d.woken && this.settles.has(d.queue)) continue;
            this.mark(d.queue);
          }
          this.schedule();
        },
        (error: unknown) => {
          this.settles.restore(settle);
          this.events.emit('error', { error, context: 'fetcher:poll' });
          // The database is away: fall back to claims, which back off (WAITING) until it answers, and
          // then ask every queue once, as at start.
          if (isDatabaseUnavailable(error) && !this.stopped) {
            this.mark(null);
            this.schedule();
          }
        },
      )
      .finally(() => {
        if (this.polling === p) this.polling = undefined;
      });
    this.polling = p;
  }

  private mark(queue: string | null): void {
    for (const s of this.states) {
      if (queue !== null && s.target.queue.name !== queue) continue;
      if (this.shares && !s.wanting) this.shares.joined(s.index, this.wanting);
      s.mark();
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

  /** Something may be claimable or startable: start a pass, or have the running one go round again. */
  private schedule(): void {
    switch (this.mode.name) {
      case 'IDLE':
        return this.startPass(false);
      case 'CLAIMING':
        this.mode.again = true;
        return;
      default:
        // STOPPED, STOPPING; or WAITING: the marks stay set and the backoff's callback claims them.
        return;
    }
  }

  /** The wait after failed claims is over: by its timer, or cut short by a wake-up (`early`). */
  private waitEnded(early: boolean): void {
    if (this.mode.name !== 'WAITING') return;
    this.startPass(early);
  }

  private startPass(afterWait: boolean): void {
    this.setMode({ name: 'CLAIMING', again: false, afterWait });
    const pass = this.runPass(afterWait).finally(() => {
      if (this.pass === pass) this.pass = undefined;
    });
    this.pass = pass;
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

  /** One pass (mode CLAIMING); ends in IDLE, WAITING, or (stop() was called) STOPPED. */
  private async runPass(afterWait: boolean): Promise<void> {
    try {
      for (;;) {
        if (this.mode.name !== 'CLAIMING') return;
        this.mode.again = false;
        const outcome = await this.claimRound();
        // Re-read: stop() may have changed the mode while a claim was on its way.
        const mode = this.mode as FetcherMode;
        if (mode.name !== 'CLAIMING') return;
        if (outcome === 'unavailable') {
          this.setMode({ name: 'WAITING', wakeEnds: !afterWait });
          this.backoff.failed();
          return;
        }
        if (outcome === 'failed' || !mode.again) return this.setMode({ name: 'IDLE' });
      }
    } catch (error) {
      // A bug (a hook that threw): reported, and the next reason to claim starts a pass again.
      this.events.emit('error', { error, context: 'fetcher' });
      if (this.mode.name === 'CLAIMING') this.setMode({ name: 'IDLE' });
    } finally {
      if (this.mode.name === 'STOPPING') this.setMode({ name: 'STOPPED' });
    }
  }

  /**
   * Starts buffered jobs, then claims for each queue that may have jobs and has room, the queue asked
   * first taking turns. Stops at the first failed claim.
   */
  private async claimRound(): Promise<'done' | 'unavailable' | 'failed'> {
    this.drainBuffers();
    // Round-robin the queue asked first, so no queue's claims always wait for the others'.
    const n = this.states.length;
    const start = this.next++ % n;
    for (let i = 0; i < n && !this.stopped; i++) {
      const s = this.states[(start + i) % n]!;
      if (s.mode !== 'MAYBE_MORE' || !this.slots.open(s.target.queue)) continue;
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
      s.claimStarted();
      let got: { batches: Job[][]; nextDueMs: number | null };
      try {
        got = await this.claim(s.target, limit);
      } catch (error) {
        s.claimFailed();
        this.events.emit('error', { error, context: `fetcher:claim:${s.target.queue.name}` });
        if (this.stopped) return 'failed';
        // The pass waits (runPass); the queue stays marked, so the pass after the wait claims it again.
        if (isDatabaseUnavailable(error)) return 'unavailable';
        this.retryTimer ??= this.clock.setTimeout(
          () => {
            this.retryTimer = undefined;
            this.mark(null);
            this.schedule();
          },
          Math.min(this.pollIntervalMs, 1_000),
        );
        return 'failed';
      }
      this.backoff.succeeded();
      // Fewer than asked: the queue looked empty to this claim (see QueueState.claimEnded).
      s.claimEnded(got.batches.length < limit);
      if (this.hooks.poll && got.batches.length < limit) this.settles.add(s.target.queue.name);
      if (got.nextDueMs !== null) this.dueIn(s.target.queue.name, got.nextDueMs);
      const at = this.clock.now();
      for (const batch of got.batches) s.buffer.push({ batch, at });
      if (this.stopped) break;
      this.drainBuffers();
    }
    return 'done';
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
