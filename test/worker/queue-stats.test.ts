import { afterEach, describe, expect, it } from 'vitest';
import { queueStatsAdd, WAIT_BOUNDS_MS, waitQuantile } from '../../src/db/queries/queue-stats.js';
import { createAdminApp } from '../../src/http/index.js';
import { createMetrics } from '../../src/metrics/index.js';
import { QueueNotFoundError, ValidationError, type Job } from '../../src/index.js';
import { WorkerEventEmitter, type JobContext } from '../../src/worker/index.js';
import { RetentionPruner } from '../../src/worker/retention.js';
import { AUTH, call, TOKEN } from '../http/helpers.js';
import { parsePrometheusText } from '../metrics/prom-text.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

const hist = (slots: Record<number, number>) =>
  Array.from({ length: WAIT_BOUNDS_MS.length + 1 }, (_, i) => slots[i] ?? 0);

describe('throughput history (the per-queue rollup)', () => {
  it('racing workers add every finished attempt: completed, failed, dead and waits, surviving the workers', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('rolled');
    const other = await t.arbiter.createQueue('rolled_other');
    // n % 10 === 0: fails once then succeeds; n % 25 === 1: dead-lettered at once; the rest succeed.
    const handler = async (job: Job<{ n: number }>, ctx: JobContext) => {
      await new Promise((r) => setImmediate(r));
      if (job.payload.n % 25 === 1) return ctx.fail(new Error('no good'));
      if (job.payload.n % 10 === 0 && job.attempts === 1) throw new Error('first attempt fails');
    };
    const options = {
      concurrency: 6,
      queues: {
        rolled: { handler, backoff: { type: 'linear' as const, delayMs: 1 } },
        rolled_other: { handler: () => {} },
      },
    };
    const workers = await Promise.all([startWorker(t.arbiter, options), startWorker(t.arbiter, options)]);
    const N = 300;
    await q.enqueueMany(Array.from({ length: N }, (_, n) => ({ payload: { n } })));
    await other.enqueueMany(Array.from({ length: 7 }, () => ({ payload: {} })));
    await waitFor(
      async () =>
        (await count(t.pool, t.schema, 'rolled')) + (await count(t.pool, t.schema, 'rolled_other')) === 0,
      'all jobs finished',
      30_000,
    );
    await Promise.all(workers.map((w) => w.stop())); // writes what they counted
    const dead = Array.from({ length: N }, (_, n) => n).filter((n) => n % 25 === 1).length;
    const retried = Array.from({ length: N }, (_, n) => n).filter((n) => n % 10 === 0 && n % 25 !== 1).length;
    const h = await t.arbiter.statsHistory({ queue: 'rolled', minutes: 5 });
    const sum = (k: 'completed' | 'failed' | 'dead') => h.buckets.reduce((a, b) => a + b[k], 0);
    expect({ completed: sum('completed'), failed: sum('failed'), dead: sum('dead') }).toEqual({
      completed: N - dead,
      failed: retried + dead,
      dead,
    });
    for (const b of h.buckets) {
      expect(b.completedPerSecond).toBeCloseTo(b.completed / 60);
      expect(WAIT_BOUNDS_MS).toContain(b.waitP50Ms);
      expect(b.waitP95Ms!).toBeGreaterThanOrEqual(b.waitP50Ms!);
    }
    // Every queue, summed; a queue of its own stays apart.
    const all = await t.arbiter.statsHistory({ minutes: 5 });
    expect(all.queue).toBe(null);
    expect(all.buckets.reduce((a, b) => a + b.completed, 0)).toBe(N - dead + 7);
    // What is stored is exactly the sum of the attempts: one row per queue and minute, waits included.
    const { rows } = await t.pool.query<{ n: string; waits: string }>(
      `SELECT count(*) AS n, sum((SELECT sum(x) FROM unnest(wait_hist) x)) AS waits
         FROM "${t.schema}"._queue_stats WHERE queue = 'rolled'`,
    );
    expect(Number(rows[0]!.waits)).toBe(N + retried);
    expect(Number(rows[0]!.n)).toBe(h.buckets.length);
  });

  it('reads buckets of several minutes, derives the wait quantiles, and refuses bad input', async () => {
    await t.arbiter.createQueue('hist');
    const now = new Date();
    const minute = (ago: number) => new Date(Math.floor(now.getTime() / 60_000) * 60_000 - ago * 60_000);
    await queueStatsAdd(t.arbiter.db, t.schema, [
      { queue: 'hist', minute: minute(0), completed: 10, failed: 1, dead: 0, waitHist: hist({ 0: 9, 8: 2 }) },
      { queue: 'hist', minute: minute(1), completed: 20, failed: 0, dead: 0, waitHist: hist({ 1: 20 }) },
      { queue: 'hist', minute: minute(90), completed: 5, failed: 0, dead: 0, waitHist: hist({ 0: 5 }) },
    ]);
    // A second worker adds to the same minute.
    await queueStatsAdd(t.arbiter.db, t.schema, [
      { queue: 'hist', minute: minute(0), completed: 1, failed: 0, dead: 0, waitHist: hist({ 16: 1 }) },
    ]);
    const h = await t.arbiter.statsHistory({ queue: 'hist', minutes: 30 });
    expect(h.buckets.map((b) => b.completed)).toEqual([20, 11]);
    // 12 waits: 9 up to 5 ms, 2 in slot 8, 1 past the last bound: p95 (the 12th) reads "at least" that bound.
    expect(h.buckets[1]).toMatchObject({ failed: 1, waitP50Ms: 5, waitP95Ms: WAIT_BOUNDS_MS.at(-1) });
    expect(h.buckets[0]).toMatchObject({ waitP50Ms: 10, waitP95Ms: 10 });
    const wide = await t.arbiter.statsHistory({ queue: 'hist', minutes: 120, bucketMinutes: 60 });
    expect(wide.buckets.reduce((a, b) => a + b.completed, 0)).toBe(36);
    expect(wide.buckets.every((b) => b.at.getTime() % 3_600_000 === 0)).toBe(true);
    expect(waitQuantile(hist({ 16: 3 }), 0.5)).toBe(WAIT_BOUNDS_MS.at(-1));
    expect(waitQuantile(hist({}), 0.5)).toBe(null);
    await expect(t.arbiter.statsHistory({ queue: 'nope' })).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(t.arbiter.statsHistory({ minutes: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(t.arbiter.statsHistory({ bucketMinutes: 1.5 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('is served over HTTP, and feeds /metrics counters in a process without a worker', async () => {
    await t.arbiter.createQueue('served');
    const app = createAdminApp({ arbiter: t.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const add = (completed: number, failed: number, dead: number) =>
      queueStatsAdd(t.arbiter.db, t.schema, [
        { queue: 'served', minute, completed, failed, dead, waitHist: hist({ 2: completed + failed }) },
      ]);
    await add(4, 0, 0);
    const one = await call(app, 'GET', '/queues/served/stats/history?minutes=10', undefined, AUTH);
    expect(one.status).toBe(200);
    expect(one.body.buckets).toHaveLength(1);
    expect(one.body.buckets[0]).toMatchObject({ completed: 4, waitP50Ms: WAIT_BOUNDS_MS[2] });
    expect((await call(app, 'GET', '/stats/history', undefined, AUTH)).body.queue).toBe(null);
    expect((await call(app, 'GET', '/queues/nope/stats/history', undefined, AUTH)).status).toBe(404);
    expect((await call(app, 'GET', '/stats/history?minutes=x', undefined, AUTH)).status).toBe(400);
    expect((await call(app, 'GET', '/stats/history?minutes=0', undefined, AUTH)).status).toBe(400);
    expect((await call(app, 'GET', '/stats/history?bogus=1', undefined, AUTH)).status).toBe(400);

    const metrics = createMetrics({ arbiter: t.arbiter, intervalMs: 0, logger: { error() {} } });
    try {
      const read = async () => {
        await metrics.collect();
        const samples = parsePrometheusText(await metrics.registry.metrics());
        const v = (name: string) =>
          samples.find((s) => s.name === name && s.labels.queue === 'served')?.value ?? 0;
        return {
          completed: v('arbiter_jobs_completed_total'),
          failed: v('arbiter_jobs_failed_total'),
          retried: v('arbiter_jobs_retried_total'),
          dead: v('arbiter_jobs_dead_total'),
        };
      };
      // The first reading is the baseline: counters count from the process's start.
      expect(await read()).toEqual({ completed: 0, failed: 0, retried: 0, dead: 0 });
      await add(5, 3, 1);
      expect(await read()).toEqual({ completed: 5, failed: 3, retried: 2, dead: 1 });
      await add(2, 0, 0);
      expect(await read()).toEqual({ completed: 7, failed: 3, retried: 2, dead: 1 });
    } finally {
      metrics.stop();
    }
  });

  it('counts the jobs the maintenance leader dead-letters once each, racing another reaper', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('lost');
    await t.arbiter.createQueue('lost_idle');
    const N = 60;
    await q.enqueueMany(Array.from({ length: N }, (_, n) => ({ payload: { n }, maxAttempts: 1 })));
    const held = await q.claim({ limit: N, leaseMs: 3_600_000, workerId: 'vanished' });
    expect(held).toHaveLength(N);
    // A third failed their final attempt and left it to the reaper: the job no longer names a worker, and
    // the worker that ran it counted the failed attempt itself.
    for (const j of held.filter((j) => j.payload.n % 3 === 0)) await q.retry(j, { error: 'boom' });
    // Five were claimed long ago and still hold their lease: stale recovery dead-letters them.
    const stale = held.filter((j) => j.payload.n % 3 !== 0).slice(0, 5);
    await t.pool.query(
      `UPDATE "${t.schema}".lost SET claimed_at = now() - interval '2 hours' WHERE id = ANY($1::bigint[])`,
      [stale.map((j) => j.id)],
    );
    // The others' leases run out (their worker vanished).
    await t.pool.query(
      `UPDATE "${t.schema}".lost SET leased_until = now() - interval '1 second'
        WHERE leased_until > now() AND claimed_at > now() - interval '1 hour'`,
    );
    const before = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}"._queue_stats WHERE queue = 'lost'`,
    );
    expect(before.rows[0].n).toBe(0);
    // Two workers (one of them the leader at a time) and an operator's reaper race for the same jobs.
    const options = { staleMaxAgeMs: 3_600_000, queues: { lost_idle: { handler: () => {} } } };
    await Promise.all([startWorker(t.arbiter, options), startWorker(t.arbiter, options)]);
    let reaped = 0;
    await waitFor(async () => {
      reaped += await q.dlq.reapExhausted({ limit: 4 });
      return (await count(t.pool, t.schema, 'lost')) === 0;
    }, 'every job dead-lettered');
    expect(await count(t.pool, t.schema, 'lost_dlq')).toBe(N);
    const h = await t.arbiter.statsHistory({ queue: 'lost', minutes: 5 });
    const sum = (k: 'completed' | 'failed' | 'dead') => h.buckets.reduce((a, b) => a + b[k], 0);
    const retried = held.filter((j) => j.payload.n % 3 === 0).length;
    expect({ completed: sum('completed'), failed: sum('failed'), dead: sum('dead') }).toEqual({
      completed: 0,
      failed: N - retried,
      dead: N,
    });
    // Who moved them does not matter; that each was counted by whoever did, once, does.
    expect(reaped).toBeLessThanOrEqual(N - stale.length);
  });

  it("is pruned by the maintenance leader past each queue's statsMaxAgeMs, oldest first, in batches", async () => {
    await t.arbiter.createQueue('aged');
    await t.arbiter.createQueue('aged_kept');
    await t.arbiter.createQueue('aged_default');
    await t.pool.query(`DELETE FROM "${t.schema}"._queue_stats`); // what the other tests left
    await t.pool.query(
      `INSERT INTO "${t.schema}"._queue_stats (queue, minute, completed)
       SELECT q, now() - (i * 60 + 15) * interval '1 second', 1
         FROM generate_series(0, 99) i, unnest(ARRAY['aged', 'aged_kept']) q
       UNION ALL SELECT 'aged_default', now() - interval '8 days', 1`,
    );
    // Half an hour (and a bit) for one queue, no limit for another, the default (7 days) for the third.
    expect(await t.arbiter.setQueueRetention('aged', { statsMaxAgeMs: 30 * 60_000 + 30_000 })).toMatchObject({
      statsMaxAgeMs: 30 * 60_000 + 30_000,
    });
    await t.arbiter.setQueueRetention('aged_kept', { statsMaxAgeMs: null });
    const p = new RetentionPruner({ arbiter: t.arbiter, events: new WorkerEventEmitter(), batchRows: 7 });
    const reports = await p.round();
    expect(reports.filter((r) => r.table === 'stats')).toEqual([
      { queue: 'aged', table: 'stats', reason: 'age', count: 69 },
      { queue: 'aged_default', table: 'stats', reason: 'age', count: 1 },
    ]);
    const left = await t.pool.query<{ queue: string; n: number }>(
      `SELECT queue, count(*)::int AS n FROM "${t.schema}"._queue_stats GROUP BY queue ORDER BY queue`,
    );
    expect(left.rows).toEqual([
      { queue: 'aged', n: 31 },
      { queue: 'aged_kept', n: 100 },
    ]);
    // Bad limits are refused before anything is written; a dropped queue takes its rows along.
    await expect(t.arbiter.setQueueRetention('aged', { statsMaxAgeMs: 59_999 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      t.arbiter.setQueueRetention('aged', { statsMaxAgeMs: '7d' as never }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect((await t.arbiter.getQueue('aged'))!.retention.statsMaxAgeMs).toBe(30 * 60_000 + 30_000);
    await t.arbiter.dropQueue('aged_kept');
    expect(await count(t.pool, t.schema, '_queue_stats', `queue = 'aged_kept'`)).toBe(0);
  });
});

describe('what each worker runs now (its registry row)', () => {
  it('lists the running jobs, per queue running/concurrency and prefetch, and the worker concurrency', async () => {
    const q = await t.arbiter.createQueue('busy');
    await t.arbiter.createQueue('calm');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = await startWorker(t.arbiter, {
      concurrency: 5,
      queues: { busy: { handler: () => gate, concurrency: 3 }, calm: { handler: () => {} } },
    });
    const jobs = await q.enqueueMany(Array.from({ length: 4 }, () => ({ payload: {} })));
    const info = await waitFor(async () => {
      const [me] = (await t.arbiter.listWorkers()).filter((x) => x.id === w.id);
      return me?.info && me.info.running === 3 ? me.info : null;
    }, 'a heartbeat with three running jobs');
    if (!info) throw new Error('no info');
    expect(info).toMatchObject({ concurrency: 5, running: 3 });
    expect(info.queues).toEqual([
      expect.objectContaining({ name: 'busy', concurrency: 3, running: 3 }),
      expect.objectContaining({ name: 'calm', running: 0 }),
    ]);
    expect(info.jobs).toHaveLength(3);
    const ids = new Set(jobs.map((j) => j!.id));
    for (const j of info.jobs) {
      expect(j.queue).toBe('busy');
      expect(ids.has(j.id)).toBe(true);
      expect(j.attempt).toBe(1);
    }
    // Over HTTP too.
    const app = createAdminApp({ arbiter: t.arbiter, auth: { token: TOKEN }, logger: { error() {} } });
    const res = await call(app, 'GET', '/workers', undefined, AUTH);
    const mine = res.body.items.find((x: { id: string }) => x.id === w.id);
    expect(mine.info.queues[0]).toMatchObject({ name: 'busy', running: expect.any(Number) });
    release();
    await waitFor(async () => (await count(t.pool, t.schema, 'busy')) === 0, 'jobs finished');
    await waitFor(async () => {
      const [me] = (await t.arbiter.listWorkers()).filter((x) => x.id === w.id);
      return me?.info?.running === 0;
    }, 'a heartbeat with nothing running');
  });
});
