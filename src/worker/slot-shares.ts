/** What the sharing needs to know of a queue. */
export interface ShareConfig {
  weight: number;
  /** Lower goes first. */
  priority: number;
  /** The queue's own cap on running handler calls. */
  concurrency: number;
}

/** The share of the slot time left to lower priorities while a higher-priority queue has work. */
const LOWER_PRIORITY_SHARE = 0.1;
/** How much the latest handler duration moves a queue's estimate (an exponential moving average). */
const ESTIMATE_GAIN = 0.2;
/** What a call is assumed to take, in ms, before any call of the worker has finished. */
const FIRST_ESTIMATE_MS = 1;

class QueueShare {
  /**
   * The slot time this queue received, in ms divided by its share: a queue that got exactly its share is
   * level with the others. A call is charged its queue's estimate when it starts and settled against
   * its real duration when it ends, so slots handed out at the same moment already count.
   */
  served = 0;
  /** Fraction of the worker's slots due to this queue now (0 while it has no work). */
  share = 0;
  /** Handler calls running. */
  running = 0;
  /** The estimates charged for the running calls, not settled yet. */
  charged = 0;
  estimateMs: number | undefined;

  constructor(readonly config: ShareConfig) {}
}

/**
 * Shares one worker's slots between its queues, by slot time (a queue of slow handlers does not get more
 * of the worker than one of fast handlers with the same weight). When a slot frees, it goes to the queue
 * with jobs waiting that is furthest behind its share; a share is its weight over the weights of the queues
 * with work, within their priority tier (see LOWER_PRIORITY_SHARE). A queue banks no credit while it wants
 * no slots: when it does again, it starts no further behind than the least-served queue that wants them.
 * Pure bookkeeping, no I/O; the fetcher says which queues have work.
 */
export class SlotShares {
  private readonly queues: QueueShare[];
  /** Queue indexes grouped by priority, the tier that goes first first. */
  private readonly tiers: number[][];
  /** The least-served queue that could start a call at the last pick, or joined since (never goes down). */
  private level = 0;

  constructor(
    configs: readonly ShareConfig[],
    private readonly slots: number,
  ) {
    this.queues = configs.map((c) => new QueueShare(c));
    const priorities = [...new Set(configs.map((c) => c.priority))].sort((a, b) => a - b);
    this.tiers = priorities.map((p) => configs.flatMap((c, i) => (c.priority === p ? [i] : [])));
  }

  running(i: number): number {
    return this.queues[i]!.running;
  }

  /**
   * Recomputes the shares from which queues have work (jobs waiting, running, or maybe claimable): the
   * first tier with work gets all of it but LOWER_PRIORITY_SHARE, which goes to the tiers below (again
   * split that way), and a tier's part is split by weight between its queues with work.
   */
  update(hasWork: (i: number) => boolean): void {
    let rest = 1;
    let tiersLeft = 0;
    for (const tier of this.tiers) if (tier.some(hasWork)) tiersLeft++;
    for (const tier of this.tiers) {
      let weights = 0;
      for (const i of tier) if (hasWork(i)) weights += this.queues[i]!.config.weight;
      const part = weights === 0 ? 0 : --tiersLeft === 0 ? rest : rest * (1 - LOWER_PRIORITY_SHARE);
      rest -= part;
      for (const i of tier) {
        const q = this.queues[i]!;
        q.share = weights > 0 && hasWork(i) ? (part * q.config.weight) / weights : 0;
      }
    }
  }

  /**
   * Slots queue i may claim jobs for although other queues hold them: its share of the worker's slots
   * (at least one, at most its own concurrency) less what it runs. They start as slots free up.
   */
  owed(i: number): number {
    const q = this.queues[i]!;
    if (q.share === 0) return 0;
    // The epsilon keeps 10 × 0.3 at 3 slots rather than 4.
    const due = Math.min(q.config.concurrency, Math.max(1, Math.ceil(this.slots * q.share - 1e-9)));
    return Math.max(0, due - q.running);
  }

  /**
   * Queue i wants slots again after wanting none (no jobs waiting, none known to be claimable): it is
   * brought up to the least-served queue that wants slots, so time spent wanting none is no credit. What
   * it got beyond that before still counts. A queue that wants slots but has none to start yet (its
   * claim is on its way) keeps its place.
   */
  joined(i: number, wanting: (j: number) => boolean): void {
    let least = Infinity;
    for (let j = 0; j < this.queues.length; j++)
      if (j !== i && wanting(j)) least = Math.min(least, this.queues[j]!.served);
    if (least !== Infinity) this.level = Math.max(this.level, least);
    const q = this.queues[i]!;
    q.served = Math.max(q.served, least === Infinity ? this.level : least);
  }

  /**
   * Of the queues that can start a call now, the one furthest behind its share; on a tie the lower
   * priority value, then the one running least for its share. -1 when none can.
   */
  pick(canStart: (i: number) => boolean): number {
    let best = -1;
    for (let i = 0; i < this.queues.length; i++) {
      if (!canStart(i)) continue;
      if (best < 0 || this.ahead(this.queues[best]!, this.queues[i]!)) best = i;
    }
    if (best >= 0) this.level = Math.max(this.level, this.queues[best]!.served);
    return best;
  }

  /** A call of queue i started: charged its estimated duration now. */
  started(i: number): void {
    const q = this.queues[i]!;
    const estimate = q.estimateMs ?? this.othersEstimate();
    q.running++;
    q.charged += estimate;
    q.served += estimate / this.divisor(q);
  }

  /** A call of queue i ended after `ms`: the charge is settled against the real duration. */
  finished(i: number, ms: number): void {
    const q = this.queues[i]!;
    // Calls are settled against the mean estimate still charged: exact in sum once the queue is idle.
    const estimate = q.running > 0 ? q.charged / q.running : 0;
    q.served += (ms - estimate) / this.divisor(q);
    q.charged -= estimate;
    q.running = Math.max(0, q.running - 1);
    q.estimateMs = q.estimateMs === undefined ? ms : q.estimateMs + ESTIMATE_GAIN * (ms - q.estimateMs);
  }

  /**
   * For a queue none of whose calls has finished yet: the mean estimate of the queues that have one. A
   * guess too low would hand a newcomer several slots at once before its first call settles.
   */
  private othersEstimate(): number {
    let sum = 0;
    let n = 0;
    for (const q of this.queues)
      if (q.estimateMs !== undefined) {
        sum += q.estimateMs;
        n++;
      }
    return n === 0 ? FIRST_ESTIMATE_MS : sum / n;
  }

  /** Whether `b` should get a slot before `a`. */
  private ahead(a: QueueShare, b: QueueShare): boolean {
    if (b.served !== a.served) return b.served < a.served;
    if (b.config.priority !== a.config.priority) return b.config.priority < a.config.priority;
    return b.running * this.divisor(a) < a.running * this.divisor(b);
  }

  /** A queue with work always has a share; the weight share stands in for one that has none now. */
  private divisor(q: QueueShare): number {
    return q.share > 0 ? q.share : q.config.weight / this.totalWeight();
  }

  private totalWeight(): number {
    let sum = 0;
    for (const q of this.queues) sum += q.config.weight;
    return sum;
  }
}
