import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('graceful shutdown', () => {
  it('stop() stops claiming, lets in-flight jobs finish, then resolves', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('drain');
    const finished: number[] = [];
    let started = 0;
    let finish!: () => void;
    const running = new Promise<void>((r) => (finish = r));
    const w = await startWorker(t.arbiter, {
      concurrency: 2,
      queues: {
        drain: {
          handler: async (job: Job<{ n: number }>) => {
            started++;
            await running;
            finished.push(job.payload.n);
          },
        },
      },
    });
    await q.enqueueMany([1, 2].map((n) => ({ payload: { n } })));
    await waitFor(() => started === 2, 'both running');
    await q.enqueueMany([3, 4].map((n) => ({ payload: { n } })));
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    // stop() waits for the running handlers: it has not resolved while they run.
    await waitFor(
      async () => (await count(t.pool, t.schema, '_workers', `id = '${w.id}'`)) === 1,
      'registered',
    );
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(finished.sort()).toEqual([1, 2]);
    expect(started).toBe(2);
    // The two in-flight jobs were acked; the two queued ones were never claimed.
    const { rows } = await t.pool.query(
      `SELECT payload->>'n' AS n, attempts FROM "${t.schema}".drain ORDER BY id`,
    );
    expect(rows).toEqual([
      { n: '3', attempts: 0 },
      { n: '4', attempts: 0 },
    ]);
  });

  it('past the shutdown timeout, handlers are aborted and their jobs visible again at once, attempt refunded', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('force');
    let reason: unknown;
    let started = false;
    let finish!: () => void;
    const running = new Promise<void>((r) => (finish = r));
    const w = await startWorker(t.arbiter, {
      queues: {
        force: {
          handler: async (_job: Job<{ n: number }>, ctx) => {
            ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
            started = true;
            await running; // ignores the signal
          },
        },
      },
    });
    const job = (await q.enqueue({ n: 1 }, { maxAttempts: 1 }))!;
    // The handler itself must be running: a job leased in the table may still be on its way to a slot
    // (a stop then gives it back unrun).
    await waitFor(() => started, 'running');
    const t0 = Date.now();
    await w.stop({ timeoutMs: 200 });
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(String(reason)).toMatch(/shutting down/);
    const { rows } = await t.pool.query(
      `SELECT leased_until, run_at <= now() AS due, attempts, max_attempts, worker_id FROM "${t.schema}".force
       WHERE id = $1`,
      [job.id],
    );
    expect(rows[0]).toEqual({ leased_until: null, due: true, attempts: 1, max_attempts: 2, worker_id: null });
    // Claimable right away by anyone (its only attempt was refunded).
    expect(await q.claim()).toHaveLength(1);
    expect(await count(t.pool, t.schema, '_workers', `id = '${w.id}'`)).toBe(0);
    finish();
  });
});

describe('recurring jobs', () => {
  it('three workers fire each cron tick exactly once', async () => {
    const q = await t.arbiter.createQueue('ticks');
    const cron = [
      { name: 'every-second', queue: 'ticks', pattern: '* * * * * *', overlap: 'allow' as const },
    ];
    const ticks: string[] = [];
    const handler = async (job: Job) => void ticks.push(String(job.meta?.cronTick));
    for (let i = 0; i < 3; i++) {
      await startWorker(t.arbiter, { cron, cronCheckIntervalMs: 50, queues: { ticks: { handler } } });
    }
    // Three ticks handled (each fired by one of the three workers).
    await waitFor(() => ticks.length >= 3, 'three ticks', 10_000);
    await stopAll();
    // A tick fired just before the stop may still be queued: count it too.
    const { rows } = await t.pool.query<{ tick: string }>(
      `SELECT meta->>'cronTick' AS tick FROM "${t.schema}".ticks`,
    );
    const all = [...ticks, ...rows.map((r) => r.tick)];
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(new Set(all).size).toBe(all.length);
    const times = all.map((x) => Date.parse(x)).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1_000);
    expect(q.name).toBe('ticks');
  });

  it("overlap 'skip' enqueues nothing while the previous tick's job is pending; 'allow' always does", async () => {
    await t.arbiter.createQueue('nobody_skip');
    await t.arbiter.createQueue('nobody_allow');
    await t.arbiter.createQueue('other');
    // No worker serves the cron queues, so every fired job stays pending.
    await startWorker(t.arbiter, {
      cronCheckIntervalMs: 50,
      cron: [
        {
          name: 'skip',
          queue: 'nobody_skip',
          pattern: '* * * * * *',
          payload: (tick: Date) => ({ at: tick }),
        },
        {
          name: 'allow',
          queue: 'nobody_allow',
          pattern: '* * * * * *',
          overlap: 'allow',
          tz: 'Europe/Paris',
        },
      ],
      queues: { other: { handler: async () => undefined } },
    });
    // Two ticks have passed once 'allow' has fired twice.
    await waitFor(async () => (await count(t.pool, t.schema, 'nobody_allow')) >= 2, 'two ticks', 10_000);
    await stopAll();
    expect(await count(t.pool, t.schema, 'nobody_skip')).toBe(1);
    expect(await count(t.pool, t.schema, 'nobody_allow')).toBeGreaterThanOrEqual(2);
    const { rows } = await t.pool.query(
      `SELECT name FROM "${t.schema}"._cron WHERE name IN ('allow', 'skip') ORDER BY name`,
    );
    expect(rows.map((r) => r.name)).toEqual(['allow', 'skip']);
  });
});
