import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError, type Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// Durable steps in batch handlers: ctx.step(job, name, fn), one job's step at a time, recorded and
// replayed per job like a single handler's, and fenced by that job's attempt.
const t = useTestDb({ poolSize: 20 });
afterEach(stopAll);

describe('ctx.step in a batch handler', () => {
  it("records each job's steps; a retried batch replays them instead of running them again", async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('batched');
    const ran: string[] = [];
    let runs = 0;
    let foreign: unknown;
    await startWorker(t.arbiter, {
      queues: {
        batched: {
          batchSize: 5,
          backoff: { type: 'linear', delayMs: 10 },
          // Finished jobs stay in the history table, and with them their steps (else swept).
          keepProcessed: true,
          batchHandler: async (jobs: Job<{ n: number }>[], ctx) => {
            runs++;
            for (const job of jobs) {
              const v = await ctx.step(job, 'double', () => (ran.push(job.id), job.payload.n * 2));
              await ctx.step(job, 'echo', () => (ran.push(`${job.id}:echo`), v));
            }
            foreign = await ctx.step({ ...jobs[0]!, id: '999999' }, 'x', () => 1).catch((e: unknown) => e);
            // The first run of each job fails after its steps: the retry must replay them.
            if (jobs.some((j) => j.attempts === 1)) throw new Error('after the steps');
          },
        },
      },
    });
    const jobs = await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'batched')) === 0, 'jobs finished');
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(foreign).toBeInstanceOf(ValidationError);
    // Each step's function ran once per job, whatever the number of runs.
    expect(ran.sort()).toEqual(jobs.flatMap((j) => [j.id, `${j.id}:echo`]).sort());
    for (const [i, job] of jobs.entries()) {
      const steps = await q.jobs.steps(job.id);
      expect(steps.map((s) => [s.name, s.result])).toEqual([
        ['double', (i + 1) * 2],
        ['echo', (i + 1) * 2],
      ]);
    }
  });

  it("a step of a job whose lease was lost records nothing and ends the batch's run", async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('batched');
    const reasons: unknown[] = [];
    let recorded = 0;
    await startWorker(t.arbiter, {
      queues: {
        batched: {
          batchSize: 5,
          batchHandler: async (jobs: Job<{ n: number }>[], ctx) => {
            if (reasons.length > 0) return;
            // Another attempt takes the second job over, as a reclaim does.
            await t.pool.query(`UPDATE "${t.schema}".batched SET attempts = attempts + 1 WHERE id = $1`, [
              jobs[1]!.id,
            ]);
            await ctx.step(jobs[0]!, 'first', () => void recorded++);
            await ctx
              .step(jobs[1]!, 'second', () => void recorded++)
              .catch((e: unknown) => reasons.push(e, ctx.signal.reason));
          },
        },
      },
    });
    const jobs = await q.enqueueMany([1, 2].map((n) => ({ payload: { n } })));
    await waitFor(() => reasons.length === 2, 'the fenced step');
    expect(recorded).toBe(2);
    expect(reasons[1]).toMatchObject({ reason: 'lease-lost' });
    expect((await q.jobs.steps(jobs[0]!.id)).map((s) => s.name)).toEqual(['first']);
    expect(await q.jobs.steps(jobs[1]!.id)).toEqual([]);
  });
});
