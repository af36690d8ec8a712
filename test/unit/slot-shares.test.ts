import { describe, expect, it } from 'vitest';
import { SlotShares, type ShareConfig } from '../../src/worker/slot-shares.js';

interface SimQueue extends Partial<ShareConfig> {
  /** Handler duration in ms. */
  ms: number;
  /** When its backlog appears (ms); before that it has no work. Default 0. */
  from?: number;
}

/**
 * Runs backlogged queues through `slots` slots on a simulated clock until `until` ms; returns the slot
 * time and the calls each queue got after `measureFrom`.
 */
function simulate(queues: SimQueue[], slots: number, until: number, measureFrom = 0) {
  const configs = queues.map((q) => ({ weight: 1, priority: 0, concurrency: slots, ...q }));
  const shares = new SlotShares(configs, slots);
  const running = queues.map(() => 0);
  const time = queues.map(() => 0);
  const calls = queues.map(() => 0);
  const most = queues.map(() => 0);
  const ends: { at: number; i: number }[] = [];
  const waitingAt = (now: number) => (i: number) => now >= (queues[i]!.from ?? 0);
  const wasWaiting = queues.map(() => false);
  let now = 0;
  const fill = () => {
    const waiting = waitingAt(now);
    for (let i = 0; i < queues.length; i++) {
      if (waiting(i) && !wasWaiting[i]) shares.joined(i, (j) => wasWaiting[j]!);
      wasWaiting[i] = waiting(i);
    }
    shares.update((i) => waiting(i) || running[i]! > 0);
    const total = () => running.reduce((a, b) => a + b, 0);
    for (;;) {
      const i = shares.pick((j) => waiting(j) && total() < slots && running[j]! < configs[j]!.concurrency);
      if (i < 0) break;
      shares.started(i);
      running[i]!++;
      if (now >= measureFrom) most[i] = Math.max(most[i]!, running[i]!);
      ends.push({ at: now + queues[i]!.ms, i });
      ends.sort((a, b) => a.at - b.at);
    }
  };
  fill();
  while (ends.length > 0 && ends[0]!.at <= until) {
    const next = Math.min(ends[0]!.at, ...queues.map((q) => ((q.from ?? 0) > now ? q.from! : Infinity)));
    const { at, i } = next < ends[0]!.at ? { at: next, i: -1 } : ends.shift()!;
    now = at;
    if (i >= 0) {
      running[i]!--;
      shares.finished(i, queues[i]!.ms);
      const start = now - queues[i]!.ms;
      if (now > measureFrom) {
        time[i]! += now - Math.max(start, measureFrom);
        calls[i]!++;
      }
    }
    fill();
  }
  const sum = time.reduce((a, b) => a + b, 0);
  return { share: time.map((t) => t / sum), calls, most };
}

describe('SlotShares', () => {
  it('equal weights share slot time equally, whatever the handler durations', () => {
    const { share, calls } = simulate([{ ms: 10 }, { ms: 1 }], 4, 3_000);
    expect(share[0]).toBeCloseTo(0.5, 1);
    // The fast queue gets ten times the calls for the same slot time.
    expect(calls[1]! / calls[0]!).toBeGreaterThan(9);
    expect(calls[1]! / calls[0]!).toBeLessThan(11);
  });

  it('weights 3:1 give 3:1 of the slot time, also where the share is a fraction of a slot', () => {
    for (const slots of [10, 3, 1]) {
      const { share } = simulate([{ ms: 3, weight: 3 }, { ms: 5 }], slots, 6_000);
      expect(Math.abs(share[0]! - 0.75)).toBeLessThan(0.02);
    }
  });

  it('a lower priority value goes first; the rest get a tenth of the slot time, split the same way below', () => {
    const two = simulate([{ ms: 2 }, { ms: 2, priority: -5 }], 8, 3_000);
    expect(Math.abs(two.share[1]! - 0.9)).toBeLessThan(0.02);
    const three = simulate([{ ms: 2, priority: 2 }, { ms: 2, priority: 1 }, { ms: 2 }], 8, 8_000);
    expect(Math.abs(three.share[2]! - 0.9)).toBeLessThan(0.02);
    expect(Math.abs(three.share[1]! - 0.09)).toBeLessThan(0.01);
    expect(Math.abs(three.share[0]! - 0.01)).toBeLessThan(0.005);
  });

  it("a queue's own concurrency caps its share; the others get what it cannot use", () => {
    const { share } = simulate([{ ms: 2, concurrency: 1 }, { ms: 2 }], 4, 3_000);
    expect(share[0]).toBeCloseTo(0.25, 2);
  });

  it('a queue banks no credit while it has nothing waiting', () => {
    // The second queue's backlog appears after 5 s of the first running alone: from then on the two
    // share, rather than the newcomer holding every slot until it has caught up on 5 s.
    const { share } = simulate([{ ms: 2 }, { ms: 2, from: 5_000 }], 4, 5_500, 5_000);
    expect(Math.abs(share[1]! - 0.5)).toBeLessThan(0.05);
  });

  it('a newcomer none of whose calls has finished is charged like the others: no burst of slots', () => {
    const { most } = simulate([{ ms: 150 }, { ms: 150, from: 1_000 }], 4, 3_000, 1_000);
    expect(most[1]).toBe(2);
  });

  it('owes a queue its share of the slots it does not run yet: at least one, at most its concurrency', () => {
    const shares = new SlotShares(
      [
        { weight: 3, priority: 0, concurrency: 10 },
        { weight: 1, priority: 0, concurrency: 10 },
        { weight: 1, priority: 0, concurrency: 2 },
        { weight: 1, priority: 1, concurrency: 10 },
      ],
      10,
    );
    shares.update((i) => i < 2);
    expect([0, 1, 2, 3].map((i) => shares.owed(i))).toEqual([8, 3, 0, 0]);
    shares.update(() => true);
    // Shares 0.54, 0.18, 0.18 and 0.1 of 10 slots; the third is capped at its concurrency.
    expect([0, 1, 2, 3].map((i) => shares.owed(i))).toEqual([6, 2, 2, 1]);
    shares.started(0);
    shares.started(0);
    expect(shares.owed(0)).toBe(4);
  });
});
