import { afterEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../src/store/job-store.js';
import type { Job } from '../../src/types.js';
import { WorkerEventEmitter } from '../../src/worker/events.js';
import { Fetcher } from '../../src/worker/fetcher.js';
import { resolveQueue, type QueueConfig, type ResolvedQueue } from '../../src/worker/queue-options.js';
import type { Claimed, FetchTarget } from '../../src/worker/queue-state.js';
import { FakeClock, settle } from './fake-clock.js';

// The fetcher's rules, driven by a fake clock against a fake store: no database, no real time. Each
// claim is recorded with the time it was asked and its limit; the fake store hands out the jobs it
// holds, can hold a claim open until the test lets it answer, and can fail claims.

const POLL_MS = 1_000;

let nextId = 0;
const job = (queue: string): Job =>
  ({ id: String(++nextId), queue, attempts: 1, groupKey: null }) as unknown as Job;

class FakeStore {
  /** Claimable jobs. */
  ready: Job[] = [];
  /** Each claim: when it was asked and its limit. */
  readonly claims: { at: number; limit: number }[] = [];
  /** Errors the next claims throw, in order. */
  readonly failures: unknown[] = [];
  /** What the next claims report as the time to the queue's earliest scheduled job. */
  nextDueMs: number | null = null;
  /** Runs once, right after the next claim has taken its jobs (as if jobs committed after its snapshot). */
  afterSnapshot: (() => void) | undefined;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  constructor(
    readonly queue: string,
    private readonly clock: FakeClock,
  ) {}

  add(n: number): void {
    for (let i = 0; i < n; i++) this.ready.push(job(this.queue));
  }

  /** Claims asked from now on wait until the returned function is called. */
  hold(): () => void {
    this.gate = new Promise<void>((r) => (this.open = r));
    return () => {
      this.gate = undefined;
      this.open?.();
    };
  }

  async claim(o: { limit: number }): Promise<{ jobs: Job[]; nextDueMs: number | null }> {
    this.claims.push({ at: this.clock.now(), limit: o.limit });
    if (this.gate) await this.gate;
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    const jobs = this.ready.splice(0, o.limit);
    const after = this.afterSnapshot;
    this.afterSnapshot = undefined;
    after?.();
    return { jobs, nextDueMs: this.nextDueMs };
  }
}

/** A connection refused: the database is unavailable. */
const unavailable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
/** A statement error (not about the database's availability). */
const statementError = () => Object.assign(new Error('division by zero'), { code: '22012' });

interface Rig {
  clock: FakeClock;
  fetcher: Fetcher;
  store: (queue: string) => FakeStore;
  /** Jobs dispatched, per queue, in order. */
  started: Map<string, Job[]>;
  /** Calls running per queue (dispatched, not finished). */
  running: Map<string, number>;
  released: Job[];
  errors: string[];
  /** Ends the oldest running call of `queue` after `ms` of run time. */
  finish(queue: string, ms?: number): void;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.fetcher.stop();
});

function rig(
  queues: Record<string, QueueConfig & { concurrency?: number }>,
  o: { concurrency?: number; pollIntervalMs?: number } = {},
): Rig {
  const clock = new FakeClock();
  const concurrency = o.concurrency ?? 2;
  const stores = new Map<string, FakeStore>();
  const targets: FetchTarget[] = Object.entries(queues).map(([name, config]) => {
    const queue: ResolvedQueue = resolveQueue(name, { handler: () => undefined, ...config }, concurrency);
    const store = new FakeStore(name, clock);
    stores.set(name, store);
    return { queue, store: store as unknown as JobStore };
  });
  const started = new Map<string, Job[]>(targets.map((t) => [t.queue.name, []]));
  const running = new Map<string, number>(targets.map((t) => [t.queue.name, 0]));
  const total = () => [...running.values()].reduce((a, b) => a + b, 0);
  const released: Job[] = [];
  const errors: string[] = [];
  const events = new WorkerEventEmitter();
  events.on('error', (e) => errors.push(e.context));
  const fetcher = new Fetcher(
    targets,
    {
      concurrency,
      free: (q) => Math.max(0, Math.min(q.concurrency - running.get(q.name)!, concurrency - total())),
      open: () => true,
    },
    'w1',
    o.pollIntervalMs ?? POLL_MS,
    {
      dispatch: (target: FetchTarget, claims: Claimed[]) => {
        for (const c of claims) {
          running.set(target.queue.name, running.get(target.queue.name)! + 1);
          started.get(target.queue.name)!.push(...c.batch);
        }
      },
      release: async (_target: FetchTarget, jobs: Job[]) => {
        released.push(...jobs);
      },
    },
    events,
    clock,
  );
  const r: Rig = {
    clock,
    fetcher,
    store: (q) => stores.get(q)!,
    started,
    running,
    released,
    errors,
    finish: (queue, ms = 10) => {
      running.set(queue, running.get(queue)! - 1);
      fetcher.slotFreed(queue, ms);
    },
  };
  rigs.push(r);
  return r;
}

describe('fetcher rules (fake clock, fake store)', () => {
  it('claims the free slots at start; a short claim leaves the queue drained until something marks it', async () => {
    const r = rig({ a: { prefetch: 0 } });
    const a = r.store('a');
    a.add(1);
    r.fetcher.start();
    await settle();
    expect(a.claims).toEqual([{ at: 0, limit: 2 }]);
    expect(r.started.get('a')).toHaveLength(1);
    expect(r.fetcher.queueMode('a')).toBe('DRAINED');
    expect(r.fetcher.modeName).toBe('IDLE');

    // A freed slot does not ask a drained queue: nothing said it has jobs.
    a.add(5);
    r.finish('a');
    await r.clock.advance(POLL_MS - 1);
    expect(a.claims).toHaveLength(1);

    // A wake-up does.
    r.fetcher.wake('a');
    await settle();
    expect(a.claims).toHaveLength(2);
    expect(r.started.get('a')).toHaveLength(3);
    // It filled its limit: the queue may have more, and it is asked again once a slot frees.
    expect(r.fetcher.queueMode('a')).toBe('MAYBE_MORE');
    r.finish('a');
    await settle();
    expect(a.claims.at(-1)).toEqual({ at: POLL_MS - 1, limit: 1 });
  });

  it('a poll tick is the floor: it marks every queue, even with no wake-up', async () => {
    const r = rig({ a: { prefetch: 0 } });
    const a = r.store('a');
    r.fetcher.start();
    await settle();
    expect(a.claims).toHaveLength(1);
    a.add(1);
    await r.clock.advance(POLL_MS - 1);
    expect(a.claims).toHaveLength(1);
    await r.clock.advance(1);
    expect(a.claims).toEqual([
      { at: 0, limit: 2 },
      { at: POLL_MS, limit: 2 },
    ]);
    expect(r.started.get('a')).toHaveLength(1);
  });

  it('wake-ups during a claim coalesce into one more claim, and a wake-up is never lost to a short claim', async () => {
    const r = rig({ a: { prefetch: 0 } });
    const a = r.store('a');
    const release = a.hold();
    r.fetcher.start();
    await settle();
    expect(a.claims).toHaveLength(1);
    expect(r.fetcher.queueMode('a')).toBe('CLAIMING');
    // Ten NOTIFYs arrive while the claim is on its way; their jobs committed after its snapshot.
    for (let i = 0; i < 10; i++) r.fetcher.wake('a');
    expect(r.fetcher.queueMode('a')).toBe('CLAIMING_WOKEN');
    expect(a.claims).toHaveLength(1);
    // The claim comes back empty (short), but was woken: exactly one more claim, which finds the jobs.
    a.afterSnapshot = () => a.add(2);
    release();
    await settle();
    expect(a.claims).toHaveLength(2);
    expect(r.started.get('a')).toHaveLength(2);
    await r.clock.advance(POLL_MS - 1);
    expect(a.claims).toHaveLength(2);
  });

  it('claims for the free slots plus a prefetch sized to recent throughput, and refills slots from memory', async () => {
    const r = rig({ a: { prefetch: 100 } }, { concurrency: 2 });
    const a = r.store('a');
    a.add(1_000);
    r.fetcher.start();
    await settle();
    // No throughput measured yet: only the free slots.
    expect(a.claims).toEqual([{ at: 0, limit: 2 }]);
    // 20 completions within 100 ms: about 20 jobs a second are finishing.
    for (let i = 0; i < 20; i++) {
      await r.clock.advance(5);
      r.finish('a', 5);
      await settle();
    }
    const limits = a.claims.map((c) => c.limit);
    expect(Math.max(...limits)).toBeGreaterThan(2);
    expect(r.fetcher.buffered).toBeGreaterThan(0);
    // A freed slot is refilled from the buffer at once, with no claim in between.
    const claims = a.claims.length;
    const release = a.hold();
    const startedBefore = r.started.get('a')!.length;
    r.finish('a', 5);
    expect(r.started.get('a')!.length).toBe(startedBefore + 1);
    release();
    await settle();
    expect(a.claims.length).toBeGreaterThan(claims); // and tops up behind it
    // The prefetch never exceeds the queue's cap.
    for (const c of a.claims) expect(c.limit).toBeLessThanOrEqual(2 + 100);
  });

  it('slow handlers prefetch next to nothing; prefetch: 0 claims only for free slots', async () => {
    const r = rig({ slow: {}, off: { prefetch: 0 } }, { concurrency: 4 });
    r.store('slow').add(1_000);
    r.store('off').add(1_000);
    r.fetcher.start();
    await settle();
    let mostBuffered = 0;
    // Each queue runs 2 calls of 250 ms at a time: about 8 completions a second each.
    for (let i = 0; i < 80; i++) {
      await r.clock.advance(125);
      r.finish(i % 2 === 0 ? 'slow' : 'off', 250);
      r.finish(i % 2 === 0 ? 'slow' : 'off', 250);
      await settle();
      mostBuffered = Math.max(mostBuffered, r.fetcher.buffered);
    }
    // About a second of throughput: at most about 8 jobs of `slow` wait in memory, none of `off`.
    expect(mostBuffered).toBeLessThanOrEqual(10);
    for (const c of r.store('off').claims) expect(c.limit).toBeLessThanOrEqual(4);
    expect(r.started.get('slow')!.length).toBeGreaterThan(40);
    expect(r.started.get('off')!.length).toBeGreaterThan(40);
  });

  it('gives back buffered jobs that waited half their lease, on the next poll tick', async () => {
    const r = rig({ a: { prefetch: 100, leaseMs: 1_000 } }, { concurrency: 1, pollIntervalMs: 100 });
    const a = r.store('a');
    a.add(50);
    r.fetcher.start();
    await settle();
    for (let i = 0; i < 10; i++) {
      await r.clock.advance(10);
      r.finish('a', 10);
    }
    await settle();
    const buffered = r.fetcher.buffered;
    expect(buffered).toBeGreaterThan(0);
    // The one slot stays busy: the buffer ages. Half the lease (500 ms) is not yet too old…
    await r.clock.advance(400);
    expect(r.released).toHaveLength(0);
    // …past it, the poll tick gives the jobs back (they never started).
    await r.clock.advance(300);
    expect(r.released.length).toBeGreaterThanOrEqual(buffered);
    for (const j of r.released) expect(r.started.get('a')).not.toContain(j);
  });

  it('a due time wakes a drained queue then, not before; only the earliest due time is kept', async () => {
    const r = rig({ a: { prefetch: 0 } }, { pollIntervalMs: 60_000 });
    const a = r.store('a');
    a.nextDueMs = 500;
    r.fetcher.start();
    await settle();
    expect(r.fetcher.queueMode('a')).toBe('DRAINED');
    a.nextDueMs = null;
    // This worker's own retry is due later, and a snooze sooner: the sooner one wins.
    r.fetcher.dueIn('a', 800);
    r.fetcher.dueIn('a', 300);
    a.add(1);
    await r.clock.advance(300);
    expect(a.claims).toHaveLength(1);
    await r.clock.advance(1);
    expect(a.claims.map((c) => c.at)).toEqual([0, 301]);
    expect(r.started.get('a')).toHaveLength(1);
    // The later times were dropped, not kept for later: nothing else wakes the queue.
    await r.clock.advance(2_000);
    expect(a.claims).toHaveLength(2);
  });

  it('backs off after failed claims: the wait doubles, and neither the poll tick nor a freed slot cuts it short', async () => {
    // pollIntervalMs 1 s: waits from 1 s, doubling, capped at 2 s; each shortened by up to a quarter (jitter).
    const r = rig({ a: { prefetch: 0 } });
    const a = r.store('a');
    a.failures.push(unavailable(), unavailable(), unavailable());
    a.add(1);
    r.fetcher.start();
    await settle();
    expect(r.fetcher.modeName).toBe('WAITING');
    r.fetcher.askAgain('a');
    r.fetcher.slotFreed('a');
    await r.clock.advance(749);
    expect(a.claims).toHaveLength(1);
    await r.clock.advance(5_251);
    expect(r.fetcher.modeName).toBe('IDLE');
    expect(r.started.get('a')).toHaveLength(1);
    expect(r.errors.filter((e) => e === 'fetcher:claim:a')).toHaveLength(3);
    // The gaps between claims are the waits (the poll ticks at every 1,000 ms claimed nothing meanwhile):
    // 750–1,000 ms, then 1,500–2,000, then 2,000 less the jitter again (the cap).
    const at = a.claims.map((c) => c.at);
    const gaps = at.slice(1, 4).map((t, i) => t - at[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(750);
    expect(gaps[0]).toBeLessThanOrEqual(1_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(1_500);
    expect(gaps[1]).toBeLessThanOrEqual(2_000);
    expect(gaps[2]).toBeGreaterThanOrEqual(1_500);
    expect(gaps[2]).toBeLessThanOrEqual(2_000);
  });

  it('a wake-up ends the wait once; if the claim it started fails too, the next wait runs its course', async () => {
    const r = rig({ a: { prefetch: 0 } }, { pollIntervalMs: 60_000 });
    const a = r.store('a');
    a.failures.push(unavailable(), unavailable());
    r.fetcher.start();
    await settle();
    expect(r.fetcher.modeName).toBe('WAITING');
    // A NOTIFY arrives over the live LISTEN connection: the database answers, so try now.
    await r.clock.advance(10);
    r.fetcher.wake('a');
    await settle();
    expect(a.claims.map((c) => c.at)).toEqual([0, 10]);
    // That claim failed as well: wake-ups no longer set the pace.
    for (let i = 0; i < 5; i++) {
      await r.clock.advance(100);
      r.fetcher.wake('a');
    }
    await settle();
    expect(a.claims).toHaveLength(2);
    // askAgain (an outcome, not a NOTIFY) never ends a wait either; the timer does (the second wait:
    // 1,500–2,000 ms after the second failure).
    r.fetcher.askAgain('a');
    await r.clock.advance(1_500);
    expect(r.fetcher.modeName).toBe('IDLE');
    expect(a.claims).toHaveLength(3);
    expect(a.claims[2]!.at).toBeGreaterThanOrEqual(1_510);
  });

  it('a statement error is retried once after min(pollIntervalMs, 1 s), without the backoff', async () => {
    const r = rig({ a: { prefetch: 0 }, b: { prefetch: 0 } }, { pollIntervalMs: 60_000 });
    const a = r.store('a');
    const b = r.store('b');
    a.failures.push(statementError());
    a.add(1);
    b.add(1);
    r.fetcher.start();
    await settle();
    // Not WAITING: a wake-up or a freed slot still starts a pass at once.
    expect(r.fetcher.modeName).toBe('IDLE');
    expect(r.fetcher.queueMode('a')).toBe('MAYBE_MORE');
    await r.clock.advance(999);
    expect(a.claims).toHaveLength(1);
    await r.clock.advance(1);
    expect(a.claims.map((c) => c.at)).toEqual([0, 1_000]);
    expect(r.started.get('a')).toHaveLength(1);
    expect(r.started.get('b')).toHaveLength(1);
    expect(r.errors).toEqual(['fetcher:claim:a']);
  });

  it('a queue with work gets its share of slots although another queue holds them all with a buffer', async () => {
    const r = rig(
      { bulk: { prefetch: 100 }, urgent: { prefetch: 0 } },
      { concurrency: 4, pollIntervalMs: 60_000 },
    );
    const bulk = r.store('bulk');
    const urgent = r.store('urgent');
    bulk.add(10_000);
    r.fetcher.start();
    await settle();
    // Bulk runs for a while: every slot busy, and a buffer of bulk jobs claimed ahead.
    for (let i = 0; i < 40; i++) {
      await r.clock.advance(5);
      r.finish('bulk', 20);
    }
    await settle();
    expect(r.running.get('bulk')).toBe(4);
    expect(r.fetcher.buffered).toBeGreaterThan(0);
    // Urgent jobs arrive: claimed at once for urgent's share (half the slots) though none is free…
    urgent.add(10);
    r.fetcher.wake('urgent');
    await settle();
    expect(urgent.claims.at(-1)).toEqual({ at: r.clock.now(), limit: 2 });
    expect(r.started.get('urgent')).toHaveLength(0);
    // …the next freed slot goes to urgent, before bulk's buffer…
    const bulkStarted = r.started.get('bulk')!.length;
    r.finish('bulk', 20);
    expect(r.started.get('urgent')).toHaveLength(1);
    expect(r.started.get('bulk')).toHaveLength(bulkStarted);
    // …and within one round of the slots (as calls of equal length end) urgent holds its half of them.
    for (let i = 0; i < 3; i++) r.finish('bulk', 20);
    expect(r.running.get('urgent')).toBe(2);
    expect(r.running.get('bulk')).toBe(2);
  });

  it('stop waits for the claim on its way, dispatches nothing after, gives every buffered job back and leaves no timer', async () => {
    const r = rig({ a: { prefetch: 0 } }, { concurrency: 1 });
    const a = r.store('a');
    a.add(5);
    const release = a.hold();
    r.fetcher.start();
    await settle();
    r.fetcher.dueIn('a', 10_000);
    expect(r.fetcher.modeName).toBe('CLAIMING');
    let stopped = false;
    const stopping = r.fetcher.stop().then(() => (stopped = true));
    expect(r.fetcher.modeName).toBe('STOPPING');
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(r.fetcher.modeName).toBe('STOPPED');
    // The claim's job arrived after stop(): not started, given back.
    expect(r.started.get('a')).toHaveLength(0);
    expect(r.released).toHaveLength(1);
    expect(r.fetcher.buffered).toBe(0);
    expect(r.clock.pending).toBe(0);
    // Nothing more happens: no claims, no dispatch, no timers.
    r.fetcher.wake('a');
    r.fetcher.askAgain('a');
    r.fetcher.dueIn('a', 5);
    r.fetcher.slotFreed('a');
    await r.clock.advance(10_000);
    expect(a.claims).toHaveLength(1);
    expect(r.started.get('a')).toHaveLength(0);
    expect(r.clock.pending).toBe(0);
  });
});
