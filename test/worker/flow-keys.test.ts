import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, type Job } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
const pools: pg.Pool[] = [];
afterAll(async () => {
  await stopAll();
  await Promise.all(pools.map((p) => p.end()));
});

/** An Arbiter on its own pool: for flow control, another process. */
function anotherProcess(): Arbiter {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 6 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return new Arbiter({ pool, schema: t.schema });
}

const keyOf = (j: Job<unknown>) => j.limitKey ?? '';

describe('limits per key with workers', () => {
  it('three workers never run more of a key than its limit; every job runs once', async () => {
    const name = 'fwk_cap';
    const q = await t.arbiter.createQueue<{ n: number }>(name);
    await t.arbiter.setQueueLimits(name, { perKey: { maxInFlight: 2 } });
    await t.arbiter.setKeyLimits(name, 'vip', { maxInFlight: 4, weight: 3 });
    const keys = ['vip', 'a', 'b', 'c', 'd'];
    const limit = (k: string) => (k === 'vip' ? 4 : k === '' ? Infinity : 2);
    const total = 300;
    await q.enqueueMany(
      Array.from({ length: total }, (_, n) => ({
        payload: { n },
        ...(n % 7 === 6 ? {} : { limitKey: keys[n % keys.length] }),
      })),
    );
    // The recorder: handler starts and ends per key, in the order the handlers see them. A handler ends
    // before its ack commits, so the recorder never counts a job that the database no longer does.
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const ran = new Map<number, number>();
    const handler = async (job: Job<{ n: number }>) => {
      const k = keyOf(job);
      running.set(k, (running.get(k) ?? 0) + 1);
      most.set(k, Math.max(most.get(k) ?? 0, running.get(k)!));
      ran.set(job.payload.n, (ran.get(job.payload.n) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 1 + (job.payload.n % 5)));
      running.set(k, running.get(k)! - 1);
    };
    for (let w = 0; w < 3; w++) {
      await startWorker(anotherProcess(), { concurrency: 6, queues: { [name]: { handler } } });
    }
    await waitFor(async () => (await q.jobs.count()) === 0, 'every job done', 60_000);
    for (const [k, n] of most) expect(n, `key ${k}`).toBeLessThanOrEqual(limit(k));
    expect(most.get('vip')).toBeGreaterThan(1);
    expect(ran.size).toBe(total);
    expect([...ran.values()].every((c) => c === 1)).toBe(true);
  });

  it("an idle worker wakes when a key's next token is due, not at its next poll", async () => {
    const name = 'fwk_rate';
    const q = await t.arbiter.createQueue<{ n: number }>(name);
    await t.arbiter.setQueueLimits(name, { perKey: { rate: { perSecond: 20, burst: 2 } } });
    await q.enqueueMany(Array.from({ length: 8 }, (_, n) => ({ payload: { n }, limitKey: 'slow' })));
    const done: number[] = [];
    // A poll interval of a minute: only the claim's report of the next token can wake the worker in time.
    await startWorker(anotherProcess(), {
      concurrency: 4,
      pollIntervalMs: 60_000,
      queues: { [name]: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    await waitFor(async () => (await q.jobs.count()) === 0, 'every job done', 30_000);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
