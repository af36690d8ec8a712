import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
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

describe('flow control with workers', () => {
  it('three workers of 8 slots each never run more than the cap at once; every job runs once', async () => {
    const name = 'fw_cap';
    const q = await t.arbiter.createQueue<{ n: number }>(name);
    await t.arbiter.setQueueLimits(name, { maxInFlight: 3 });
    const total = 150;
    await q.enqueueMany(Array.from({ length: total }, (_, n) => ({ payload: { n } })));
    // The recorder: handler starts and ends, in the order the handlers see them.
    let running = 0;
    let most = 0;
    const ran = new Map<number, number>();
    const handler = async (job: { payload: { n: number } }) => {
      running++;
      most = Math.max(most, running);
      ran.set(job.payload.n, (ran.get(job.payload.n) ?? 0) + 1);
      await new Promise((r) => setImmediate(r));
      running--;
    };
    for (let w = 0; w < 3; w++) {
      await startWorker(anotherProcess(), { concurrency: 8, queues: { [name]: { handler } } });
    }
    await waitFor(async () => (await q.jobs.count()) === 0, 'every job done', 60_000);
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(0);
    expect(ran.size).toBe(total);
    expect([...ran.values()].every((c) => c === 1)).toBe(true);
  });

  it('a cap set while a worker runs takes effect without a restart', async () => {
    const name = 'fw_live';
    const q = await t.arbiter.createQueue(name);
    for (let i = 0; i < 4; i++) await q.enqueue({ i });
    // Another process claims once without limits (and caches that the queue has none)…
    const other = anotherProcess().queue(name);
    const [held] = await other.claim({ limit: 1, leaseMs: 60_000 });
    expect(held).toBeDefined();
    // …then a cap of 1 is set by another host (plain SQL here: nothing in this process hears of it):
    // within a second, that process claims nothing more.
    await t.pool.query(`INSERT INTO "${t.schema}"._flow_limits (queue, max_in_flight) VALUES ($1, 1)`, [
      name,
    ]);
    const extra: unknown[] = [];
    await waitFor(
      async () => {
        const got = await other.claim({ limit: 1, leaseMs: 60_000 });
        extra.push(...got);
        return got.length === 0;
      },
      'the cap to apply',
      5_000,
      50,
    );
    // Before it saw the cap it could still take jobs; from then on nothing, whatever it asks for.
    expect(await other.claim({ limit: 3 })).toEqual([]);
    expect(extra.length).toBeLessThanOrEqual(3);
    expect(await t.arbiter.getQueueLimits(name)).toEqual({ maxInFlight: 1, rate: null, perKey: null });
  });
});
