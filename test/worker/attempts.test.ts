import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe("every attempt's error", () => {
  it('is recorded for each failure (retried or dead-lettered), with worker, start and duration', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('att');
    const w = await startWorker(t.arbiter, {
      queues: {
        att: {
          backoff: { type: 'linear', delayMs: 1 },
          handler: async (job: Job<{ n: number }>) => {
            if (job.payload.n === 0) return; // succeeds at once: writes no attempt
            if (job.payload.n === 1 && job.attempts === 3) return; // fails twice, then succeeds
            throw new Error(`boom ${job.payload.n} at ${job.attempts}`);
          },
        },
      },
    });
    const [ok, flaky, doomed] = await q.enqueueMany([
      { payload: { n: 0 } },
      { payload: { n: 1 } },
      { payload: { n: 2 }, maxAttempts: 3 },
    ]);
    await waitFor(async () => (await count(t.pool, t.schema, 'att')) === 0, 'queue drained');
    expect(await q.jobs.attempts(ok!.id)).toEqual([]);
    const a = await q.jobs.attempts(flaky!.id);
    expect(a.map((x) => [x.attempt, x.error])).toEqual([
      [1, expect.stringContaining('boom 1 at 1')],
      [2, expect.stringContaining('boom 1 at 2')],
    ]);
    for (const x of a) {
      expect(x.workerId).toBe(w.id);
      expect(x.startedAt).toBeInstanceOf(Date);
      expect(x.durationMs).toBeGreaterThanOrEqual(0);
      expect(x.failedAt.getTime()).toBeGreaterThanOrEqual(x.startedAt!.getTime());
    }
    // A dead-lettered job's attempts are read by its job id; the last one is the dead-lettering failure.
    const d = await q.jobs.attempts(doomed!.id);
    expect(d.map((x) => x.attempt)).toEqual([1, 2, 3]);
    expect(d[2]!.error).toContain('boom 2 at 3');
    expect(await count(t.pool, t.schema, '_job_attempts', `queue = 'att'`)).toBe(5);
  });

  it('racing workers: each failure is recorded once, by the attempt that held the job', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('att_race');
    const options = {
      concurrency: 8,
      queues: {
        att_race: {
          backoff: { type: 'linear' as const, delayMs: 1 },
          handler: async (job: Job<{ n: number }>) => {
            if (job.attempts <= job.payload.n % 3) throw new Error(`fail ${job.payload.n}/${job.attempts}`);
          },
        },
      },
    };
    await Promise.all([startWorker(t.arbiter, options), startWorker(t.arbiter, options)]);
    const jobs = await q.enqueueMany(Array.from({ length: 90 }, (_, n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'att_race')) === 0, 'drained', 30_000);
    for (const [n, job] of jobs.entries()) {
      const a = await q.jobs.attempts(job!.id);
      const failures = n % 3;
      expect(a.map((x) => `${x.attempt}:${x.error}`)).toEqual(
        Array.from({ length: failures }, (_, i) => `${i + 1}:Error: fail ${n}/${i + 1}`),
      );
    }
  });
});
