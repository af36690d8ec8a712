import { afterEach, describe, expect, it } from 'vitest';
import type { DueQueue } from '../../src/db/queries/queue-due.js';
import type { JobStore } from '../../src/store/job-store.js';
import type { Job } from '../../src/types.js';
import { WorkerEventEmitter } from '../../src/worker/events.js';
import { Fetcher } from '../../src/worker/fetcher.js';
import { SETTLE_MAX, SETTLE_SWEEP } from '../../src/worker/settle-list.js';
import { resolveQueue, type ResolvedQueue } from '../../src/worker/queue-options.js';
import type { FetchTarget } from '../../src/worker/queue-state.js';
import { FakeClock, settle } from './fake-clock.js';

// The fetcher with the poll hook (migration 0010's summary), driven by a fake clock: a poll tick claims
// only from the queues the poll says are due, whatever the number of queues, and a queue whose claim came
// back short is handed to the next poll to settle.

const POLL_MS = 1_000;
let nextId = 0;

class FakeStore {
  ready: Job[] = [];
  claims: number[] = [];
  nextDueMs: number | null = null;
  constructor(
    readonly queue: string,
    private readonly clock: FakeClock,
  ) {}
  add(n: number): void {
    for (let i = 0; i < n; i++)
      this.ready.push({
        id: String(++nextId),
        queue: this.queue,
        attempts: 1,
        groupKey: null,
      } as unknown as Job);
  }
  async claim(o: { limit: number }): Promise<{ jobs: Job[]; nextDueMs: number | null }> {
    this.claims.push(this.clock.now());
    return { jobs: this.ready.splice(0, o.limit), nextDueMs: this.nextDueMs };
  }
}

interface PollRig {
  clock: FakeClock;
  fetcher: Fetcher;
  stores: Map<string, FakeStore>;
  /** Each poll's settle list. */
  polls: (readonly string[])[];
  /** What the next polls answer. */
  due: DueQueue[];
  claims(): number;
}

const rigs: PollRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.fetcher.stop();
});

function rig(n: number): PollRig {
  const clock = new FakeClock();
  const stores = new Map<string, FakeStore>();
  const targets: FetchTarget[] = Array.from({ length: n }, (_, i) => {
    const name = `q${i}`;
    const queue: ResolvedQueue = resolveQueue(name, { handler: () => undefined, prefetch: 0 }, 4);
    const store = new FakeStore(name, clock);
    stores.set(name, store);
    return { queue, store: store as unknown as JobStore };
  });
  const r: PollRig = {
    clock,
    stores,
    polls: [],
    due: [],
    claims: () => [...stores.values()].reduce((a, s) => a + s.claims.length, 0),
    fetcher: undefined as unknown as Fetcher,
  };
  r.fetcher = new Fetcher(
    targets,
    { concurrency: 4, free: () => 4, open: () => true },
    'w1',
    POLL_MS,
    {
      dispatch: () => undefined,
      release: async () => undefined,
      poll: async (settleList) => {
        r.polls.push(settleList);
        return r.due;
      },
    },
    new WorkerEventEmitter(),
    clock,
  );
  rigs.push(r);
  return r;
}

describe('fetcher with the poll summary (fake clock)', () => {
  it('an idle worker over 1,000 queues polls once per tick and claims nothing', async () => {
    const r = rig(1_000);
    r.fetcher.start();
    await settle();
    // The start asks every queue once (each comes back short and is handed to the polls to settle).
    expect(r.claims()).toBe(1_000);
    const ticks = Math.ceil(1_000 / SETTLE_MAX) + 5;
    for (let t = 0; t < ticks; t++) await r.clock.advance(POLL_MS);
    expect(r.polls).toHaveLength(ticks);
    expect(r.claims()).toBe(1_000);
    // Every queue was handed to a poll to settle, at most SETTLE_MAX + SETTLE_SWEEP a poll.
    const settled = new Set(r.polls.flat());
    expect(settled.size).toBe(1_000);
    for (const p of r.polls) expect(p.length).toBeLessThanOrEqual(SETTLE_MAX + SETTLE_SWEEP);
  });

  it('claims only the queues the poll finds due, and times those due before the next tick', async () => {
    const r = rig(50);
    r.fetcher.start();
    await settle();
    for (let t = 0; t < 3; t++) await r.clock.advance(POLL_MS);
    const before = r.claims();
    const q7 = r.stores.get('q7')!;
    const q9 = r.stores.get('q9')!;
    q7.add(1);
    q9.add(1);
    r.due = [
      { queue: 'q7', dueMs: 0, woken: true },
      { queue: 'q9', dueMs: 400, woken: false },
    ];
    await r.clock.advance(POLL_MS);
    r.due = [];
    expect(q7.claims.at(-1)).toBe(4 * POLL_MS);
    expect(q7.ready).toHaveLength(0);
    expect(r.claims()).toBe(before + 1);
    // q9's timer fires when its job is due, not at the next tick.
    await r.clock.advance(401);
    expect(q9.claims.at(-1)).toBe(4 * POLL_MS + 401);
    expect(q9.ready).toHaveLength(0);
    expect(r.claims()).toBe(before + 2);
  });

  it('a short claim is settled by the next poll; a due queue still waiting for its settle is claimed only when woken', async () => {
    const r = rig(200);
    r.fetcher.start();
    await settle();
    // 200 queues came back short at start: the first poll settles SETTLE_MAX of them (and a few in turn).
    await r.clock.advance(POLL_MS);
    const first = r.polls[0]!;
    expect(first.slice(0, SETTLE_MAX)).toEqual(Array.from({ length: SETTLE_MAX }, (_, i) => `q${i}`));
    // q150 is reported due (its bound was never settled): not claimed again while it waits for its settle.
    const q150 = r.stores.get('q150')!;
    r.due = [{ queue: 'q150', dueMs: -1, woken: false }];
    await r.clock.advance(POLL_MS);
    expect(q150.claims).toHaveLength(1);
    // A wake (an insert since) makes it claimed at once.
    q150.add(1);
    r.due = [{ queue: 'q150', dueMs: -1, woken: true }];
    await r.clock.advance(POLL_MS);
    expect(q150.claims).toHaveLength(2);
    expect(q150.ready).toHaveLength(0);
  });

  it('a (re)connected listener polls instead of asking every queue', async () => {
    const r = rig(100);
    r.fetcher.start();
    await settle();
    const claims = r.claims();
    const polls = r.polls.length;
    r.fetcher.wake(null);
    await settle();
    expect(r.polls.length).toBe(polls + 1);
    expect(r.claims()).toBe(claims);
    // A wake-up naming a queue claims that queue only.
    r.fetcher.wake('q3');
    await settle();
    expect(r.claims()).toBe(claims + 1);
  });
});
