/**
 * Queues one poll settles at most (each settle reads two claim indexes of the queue and holds a dozen
 * locks until the poll commits; the rest wait for the next poll), and queues re-settled in turn on every
 * poll whatever their claims said: the floor that corrects a bound nothing announced (about 250 s for
 * 1,000 queues).
 */
export const SETTLE_MAX = 32;
export const SETTLE_SWEEP = 4;

/**
 * Which queues the fetcher's next poll settles (recomputes their due bound, migration 0010): those whose
 * last claim came back short, in the order they did, then SETTLE_SWEEP more in turn.
 */
export class SettleList {
  private readonly wanted = new Set<string>();
  private sweepNext = 0;

  constructor(private readonly queues: readonly string[]) {}

  /** A claim of `queue` came back short. */
  add(queue: string): void {
    this.wanted.add(queue);
  }

  /** Still waiting for its settle. */
  has(queue: string): boolean {
    return this.wanted.has(queue);
  }

  /** The next poll's list, taken off the waiting ones (give it back with `restore` if the poll fails). */
  take(): string[] {
    const out: string[] = [];
    for (const q of this.wanted) {
      if (out.length >= SETTLE_MAX) break;
      out.push(q);
    }
    for (const q of out) this.wanted.delete(q);
    const n = this.queues.length;
    for (let i = 0; i < Math.min(SETTLE_SWEEP, n); i++) {
      const name = this.queues[this.sweepNext++ % n]!;
      if (!out.includes(name)) out.push(name);
    }
    return out;
  }

  restore(queues: readonly string[]): void {
    for (const q of queues) this.wanted.add(q);
  }
}
