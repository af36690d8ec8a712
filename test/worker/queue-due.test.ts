// The schema-wide summary of which queues may have claimable work (migration 0010): a worker polls it
// once per tick for all its queues, and every way a job becomes claimable keeps it right. Workers here
// run poll-only (no LISTEN), so nothing but the summary and their own due timers can find a job.
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import type { JobContext } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb({ poolSize: 20 });
afterEach(stopAll);

const WITHIN = 20_000;

async function bound(queue: string): Promise<{ due: boolean; settledIdle: boolean }> {
  const { rows } = await t.pool.query<{ due_ms: number | null; idle: boolean }>(
    `SELECT (SELECT due_ms FROM "${t.schema}"._queue_poll(ARRAY[$1], '{}', 0)) AS due_ms,
            (SELECT d.due_at = 'infinity' AND NOT EXISTS (SELECT 1 FROM "${t.schema}"._queue_wakes w WHERE w.queue = $1)
             FROM "${t.schema}"._queue_due d WHERE d.queue = $1) AS idle`,
    [queue],
  );
  return { due: rows[0]!.due_ms !== null, settledIdle: rows[0]!.idle === true };
}

describe('queue summary: one poll for all queues', () => {
  it('a poll-only worker over 40 queues runs new, delayed, retried and lease-expired jobs on any of them', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `pd_${i}`);
    for (const n of names) await t.arbiter.createQueue(n);
    const runs: { queue: string; attempt: number; at: number }[] = [];
    const handler = async (job: Job, ctx: JobContext) => {
      runs.push({ queue: job.queue, attempt: job.attempts, at: Date.now() });
      if (job.queue === 'pd_31' && job.attempts === 1) return ctx.retryAfter(700, 'first attempt fails');
      return ctx.done();
    };
    // Another process took a job of pd_5 and died: its lease runs out, and nothing announces that.
    await t.arbiter.queue('pd_5').enqueue({ lost: true });
    const taken = await t.arbiter.store('pd_5').claim({ limit: 1, leaseMs: 1_200, workerId: 'gone' });
    expect(taken.jobs).toHaveLength(1);
    await startWorker(t.arbiter, {
      listen: false,
      pollIntervalMs: 200,
      queues: Object.fromEntries(names.map((n) => [n, { handler }])),
    });
    // Every idle queue gets settled: its bound goes to 'infinity' and the poll stops reporting it.
    await waitFor(async () => (await bound('pd_20')).settledIdle, 'an idle queue settled', WITHIN);

    await t.arbiter.queue('pd_17').enqueue({ plain: true });
    const delayed = (await t.arbiter.queue('pd_23').enqueue({ delayed: true }, { delayMs: 800 }))!;
    await t.arbiter.queue('pd_31').enqueue({ retried: true });
    await waitFor(() => runs.some((r) => r.queue === 'pd_17'), 'the plain job', WITHIN);
    await waitFor(() => runs.some((r) => r.queue === 'pd_23'), 'the delayed job', WITHIN);
    expect(runs.find((r) => r.queue === 'pd_23')!.at).toBeGreaterThanOrEqual(delayed.runAt.getTime() - 50);
    await waitFor(() => runs.some((r) => r.queue === 'pd_31' && r.attempt === 2), 'the retry', WITHIN);
    await waitFor(() => runs.some((r) => r.queue === 'pd_5' && r.attempt === 2), 'the lost lease', WITHIN);
    // Nothing ran twice, nothing ran on a queue that had no job.
    expect(new Set(runs.map((r) => r.queue))).toEqual(new Set(['pd_5', 'pd_17', 'pd_23', 'pd_31']));
    expect(runs.filter((r) => r.queue === 'pd_17')).toHaveLength(1);
    // Once done, those queues settle back to idle too.
    for (const q of ['pd_5', 'pd_17', 'pd_23', 'pd_31'])
      await waitFor(async () => (await bound(q)).settledIdle, `${q} settled back to idle`, WITHIN);
  });

  it('a paused queue is not due; resuming it makes it due', async () => {
    const q = await t.arbiter.createQueue('pd_paused');
    await t.arbiter.pauseQueue('pd_paused');
    await q.enqueue({ x: 1 });
    await t.pool.query(`SELECT "${t.schema}"._queue_settle('pd_paused')`);
    expect(await bound('pd_paused')).toEqual({ due: false, settledIdle: true });
    await t.arbiter.resumeQueue('pd_paused');
    expect((await bound('pd_paused')).due).toBe(true);
  });

  it('racing producers and settles: a committed job always leaves its queue due', async () => {
    await t.arbiter.createQueue('pd_race');
    const table = `"${t.schema}"."pd_race"`;
    const settle = `SELECT "${t.schema}"._queue_settle('pd_race')`;
    const clients = await Promise.all(Array.from({ length: 8 }, () => t.connect()));
    const settlers = await Promise.all(Array.from({ length: 2 }, () => t.connect()));
    for (let round = 0; round < 40; round++) {
      await t.pool.query(`DELETE FROM ${table}`);
      await t.pool.query(settle);
      expect((await bound('pd_race')).due).toBe(false);
      let producing = true;
      const settling = settlers.map(async (c) => {
        while (producing) await c.query(settle).catch(() => (producing = false));
      });
      // Producers: plain inserts, inserts held open a moment, delayed and repeatable-read ones.
      await Promise.all(
        clients.map(async (c, i) => {
          const kind = (round + i) % 4;
          if (kind === 0) return c.query(`INSERT INTO ${table} (payload) VALUES ('{}')`);
          await c.query(kind === 3 ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN');
          if (kind === 3) await c.query('SELECT 1');
          await c.query(
            `INSERT INTO ${table} (payload, run_at) VALUES ('{}', now() + $1 * interval '1 millisecond')`,
            [kind === 2 ? 300 : 0],
          );
          await c.query('SELECT pg_sleep(0.002 * $1)', [i % 3]);
          return c.query('COMMIT');
        }),
      );
      producing = false;
      await Promise.all(settling);
      // Settles after the last commit keep it right too.
      await t.pool.query(settle);
      const { rows } = await t.pool.query<{ bound: Date; first: Date }>(
        `SELECT least(d.due_at, (SELECT min(w.at) FROM "${t.schema}"._queue_wakes w WHERE w.queue = d.queue)) AS bound,
                (SELECT min(run_at) FROM ${table}) AS first
         FROM "${t.schema}"._queue_due d WHERE d.queue = 'pd_race'`,
      );
      // The bound is no later than the first job.
      expect(rows[0]!.bound.getTime(), `round ${round}`).toBeLessThanOrEqual(rows[0]!.first.getTime());
    }
  });

  it('an update that brings a job forward marks its queue (a retry sooner than its lease ran)', async () => {
    const q = await t.arbiter.createQueue('pd_upd');
    const job = (await q.enqueue({ x: 1 }, { delayMs: 3_600_000 }))!;
    await t.pool.query(`SELECT "${t.schema}"._queue_settle('pd_upd')`);
    const { rows } = await t.pool.query<{ due_ms: number }>(
      `SELECT due_ms FROM "${t.schema}"._queue_poll(ARRAY['pd_upd'], '{}', 7200000)`,
    );
    expect(Number(rows[0]!.due_ms)).toBeGreaterThan(3_000_000);
    expect((await bound('pd_upd')).due).toBe(false);
    expect(await q.jobs.promote(job.id)).toBe(1);
    expect((await bound('pd_upd')).due).toBe(true);
  });
});
