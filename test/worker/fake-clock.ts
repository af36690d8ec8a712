import type { Clock, TimerHandle } from '../../src/worker/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every promise chain that can move on do so (a real macrotask turn). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A Clock that only moves when the test says so. Timers fire in order of due time (then of creation),
 * each after the promise chains started by the previous one have settled, as they would in real time.
 */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<TimerHandle, Pending>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {};
    this.timers.set(handle, { at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.timers.delete(handle);
  }

  /** Timers not fired or cleared yet. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing the timers that fall due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [TimerHandle, Pending] | undefined;
      for (const e of this.timers)
        if (
          e[1].at <= end &&
          (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))
        )
          next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await settle();
  }
}
