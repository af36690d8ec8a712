import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// The fetcher claims ahead of free slots (prefetch), sized to the queue's recent throughput. These tests
// pin down what that must never cost: every job runs exactly once, slow queues hold (almost) nothing
// they cannot run, a buffered job never outlives half its lease unrun, and shutdown gives the buffer back.
const t = useTestDb();
afterEach(stopAll);

const leased = (queue: string) => count(t.pool, t.schema, queue, 'leased_until IS NOT NULL');

describe('prefetch', () => {
  it('fast handlers: 3,000 jobs, each run exactly once, with claims well beyond the free slots', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('pf_fast');
    await q.enqueueManyCount(Array.from({ length: 3_000 }, (_, n) => ({ payload: { n } })));
    const runs = new Map<number, number>();
    let maxLeased = 0;
    let running = 0;
    let maxRunning = 0;
    await startWorker(t.arbiter, {
      concurrency: 4,
      queues: {
        pf_fast: {
          handler: async (job: Job<{ n: number }>) => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            runs.set(job.payload.n, (runs.get(job.payload.n) ?? 0) + 1);
            await new Promise((r) => setImmediate(r));
            running--;
          },
        },
      },
    });
    await waitFor(
      async () => {
        maxLeased = Math.max(maxLeased, await leased('pf_fast'));
        return (await count(t.pool, t.schema, 'pf_fast')) === 0;
      },
      'all done',
      30_000,
      5,
    );
    expect(runs.size).toBe(3_000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(maxRunning).toBeLessThanOrEqual(4);
    // Prefetch happened: at some point far more jobs were leased than there are slots.
    expect(maxLeased).toBeGreaterThan(4 * 4);
  });

  it('prefetch: 0 claims only for free slots: nothing waits in memory, nothing more is leased', async () => {
    // How much a queue prefetches for its throughput (slow handlers next to nothing) is a rule of the
    // fetcher's, tested on a fake clock in fetcher-rules.test.ts; here the switch, end to end.
    const off = await t.arbiter.createQueue<{ n: number }>('pf_off');
    await off.enqueueManyCount(Array.from({ length: 40 }, (_, n) => ({ payload: { n } })));
    const waiting: (() => void)[] = [];
    let started = 0;
    const offWorker = await startWorker(t.arbiter, {
      concurrency: 2,
      queues: {
        pf_off: {
          prefetch: 0,
          handler: async () => {
            started++;
            await new Promise<void>((r) => waiting.push(r));
          },
        },
      },
    });
    // One call at a time is let go; each time, the slot it frees is refilled by a claim of its own.
    for (let i = 0; i < 20; i++) {
      await waitFor(() => waiting.length === 2, `two handlers running (${i})`);
      await waitFor(async () => (await count(t.pool, t.schema, 'pf_off')) === 40 - i, `${i} acked`);
      expect(offWorker.prefetchedCount).toBe(0);
      expect(await leased('pf_off')).toBe(2);
      waiting.shift()!();
      await waitFor(() => started === i + 3, `the freed slot refilled (${i})`);
    }
    expect(offWorker.prefetchedCount).toBe(0);
    for (const release of waiting.splice(0)) release();
  });

  it('a buffered job that waits half its lease is given back unrun, attempt refunded', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('pf_stale');
    const released: string[] = [];
    let gate: (() => void) | undefined;
    const blocked = new Promise<void>((r) => (gate = r));
    let started = 0;
    const w = await startWorker(t.arbiter, {
      concurrency: 1,
      pollIntervalMs: 50,
      queues: {
        pf_stale: {
          leaseMs: 600,
          handler: async (job: Job<{ n: number }>) => {
            started++;
            // The first 200 jobs are instant (the throughput estimate climbs), then the slot blocks.
            if (job.payload.n >= 200) await blocked;
          },
        },
      },
    });
    w.on('job:released', (e) => released.push(e.job.id));
    await q.enqueueManyCount(Array.from({ length: 400 }, (_, n) => ({ payload: { n } })));
    // Jobs were prefetched behind the blocked slot, then given back once they had waited 300 ms.
    await waitFor(() => released.length > 0, 'a buffered job released', 10_000);
    await waitFor(async () => (await leased('pf_stale')) <= 1, 'only the running job leased', 10_000);
    // Given back with the attempt refunded (the budget is raised by one; attempts never go down).
    const { rows } = await t.pool.query<{ spent: number }>(
      `SELECT attempts - (max_attempts - 25) AS spent FROM "${t.schema}".pf_stale
       WHERE id = ANY($1::bigint[]) AND leased_until IS NULL`,
      [released],
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.spent === 0)).toBe(true);
    gate!();
    await waitFor(async () => (await count(t.pool, t.schema, 'pf_stale')) === 0, 'all done', 20_000);
    expect(started).toBe(400);
  });

  it('stop() gives the buffer back at once: nothing stays leased, every job runs once overall', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('pf_stop');
    await q.enqueueManyCount(Array.from({ length: 2_000 }, (_, n) => ({ payload: { n } })));
    const runs = new Map<number, number>();
    const handler = async (job: Job<{ n: number }>) => {
      runs.set(job.payload.n, (runs.get(job.payload.n) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
    };
    const w = await startWorker(t.arbiter, { concurrency: 4, queues: { pf_stop: { handler } } });
    await waitFor(() => runs.size >= 300, 'some progress');
    await w.stop();
    expect(await leased('pf_stop')).toBe(0);
    const left = await count(t.pool, t.schema, 'pf_stop');
    expect(left).toBeGreaterThan(0);
    // What is left was given back unrun: no attempt spent (a release raises the budget by one).
    expect(await count(t.pool, t.schema, 'pf_stop', 'attempts - (max_attempts - 25) > 0')).toBe(0);
    await startWorker(t.arbiter, { concurrency: 4, queues: { pf_stop: { handler } } });
    await waitFor(async () => (await count(t.pool, t.schema, 'pf_stop')) === 0, 'all done', 20_000);
    expect(runs.size).toBe(2_000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  });
});
