import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError, type Job } from '../../src/index.js';
import { defineQueue, outcomes, type Outcome } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('timeouts', () => {
  it('a handler past its queue timeout is aborted, recorded as a timeout, retried, then dead-lettered', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('slow');
    const reasons: unknown[] = [];
    const timedOut: number[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        slow: {
          timeoutMs: 100,
          backoff: { type: 'linear', delayMs: 10 },
          handler: (_job: Job<{ n: number }>, ctx) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                reasons.push(ctx.signal.reason);
                reject(ctx.signal.reason as Error);
              });
            }),
        },
      },
    });
    w.on('job:timed-out', (e) => timedOut.push(e.timeoutMs));
    await q.enqueue({ n: 1 }, { maxAttempts: 2 });
    await waitFor(async () => (await count(t.pool, t.schema, 'slow_dlq')) === 1, 'dead letter');
    const { rows } = await t.pool.query(`SELECT attempts, last_error FROM "${t.schema}".slow_dlq`);
    expect(rows[0].attempts).toBe(2);
    expect(rows[0].last_error).toMatch(/TimeoutError: job timed out after 100 ms/);
    expect(reasons).toHaveLength(2);
    expect(timedOut).toEqual([100, 100]);
  });

  it('a per-job timeout (meta.timeoutMs) applies even when the handler ignores the signal', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('perjob');
    await startWorker(t.arbiter, {
      queues: {
        perjob: {
          onError: (_e, _job, info) => (info.timedOut ? outcomes.fail('took too long') : undefined),
          handler: async (job: Job<{ n: number }>) => {
            if (job.payload.n === 1) await new Promise((r) => setTimeout(r, 1_500)); // ignores the signal
          },
        },
      },
    });
    await q.enqueue({ n: 1 }, { meta: { timeoutMs: 100 } });
    await q.enqueue({ n: 2 }, { meta: { timeoutMs: 100 } });
    await waitFor(
      async () => (await count(t.pool, t.schema, 'perjob_dlq')) === 1,
      'timed-out job dead-lettered',
      1_400,
    );
    await waitFor(async () => (await count(t.pool, t.schema, 'perjob')) === 0, 'fast job done');
    const { rows } = await t.pool.query(`SELECT last_error FROM "${t.schema}".perjob_dlq`);
    expect(rows[0].last_error).toBe('took too long');
  });
});

describe('payload schemas', () => {
  const schema = z.object({ to: z.email(), times: z.number().int().default(1) }).transform((v) => ({
    ...v,
    upper: v.to.toUpperCase(),
  }));

  it('types and validates enqueue: an invalid payload is rejected with a ValidationError and writes nothing', async () => {
    await t.arbiter.createQueue('mail');
    const mail = defineQueue(t.arbiter, 'mail', { schema });
    await expect(mail.enqueue({ to: 'not-an-email' })).rejects.toThrow(ValidationError);
    await expect(mail.enqueue({ to: 'not-an-email' })).rejects.toThrow(
      /payload: failed schema validation: to: /,
    );
    await expect(mail.enqueueMany([{ payload: { to: 'a@b.co' } }, { payload: { to: 'x' } }])).rejects.toThrow(
      /items\[1\]\.payload/,
    );
    expect(await count(t.pool, t.schema, 'mail')).toBe(0);
    expect(await mail.enqueue({ to: 'a@b.co' })).toBeTruthy();
    expect(await count(t.pool, t.schema, 'mail')).toBe(1);
  });

  it('the handler gets the parsed output; a poison payload is dead-lettered and the worker keeps going', async () => {
    await t.arbiter.createQueue('mail2');
    const mail = defineQueue(t.arbiter, 'mail2', { schema });
    const seen: { upper: string; times: number }[] = [];
    await startWorker(t.arbiter, {
      queues: {
        mail2: mail.handle({
          handler: async (job) => {
            seen.push({ upper: job.payload.upper, times: job.payload.times });
          },
        }),
      },
    });
    // Written behind the schema's back (raw SQL): the worker must not crash on it.
    await t.pool.query(
      `INSERT INTO "${t.schema}".mail2 (payload) VALUES ('{"to": 42}'), ('"just a string"')`,
    );
    await mail.enqueue({ to: 'ok@example.com' });
    await waitFor(async () => (await count(t.pool, t.schema, 'mail2')) === 0, 'queue emptied');
    expect(seen).toEqual([{ upper: 'OK@EXAMPLE.COM', times: 1 }]);
    const { rows } = await t.pool.query(
      `SELECT attempts, last_error FROM "${t.schema}".mail2_dlq ORDER BY job_id`,
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.attempts).toBe(1);
      expect(r.last_error).toMatch(/^payload failed schema validation: /);
    }
  });
});

describe('batched handlers', () => {
  it('receives up to batchSize jobs of one group, returns an outcome per job, and acks in bulk', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('bulk');
    const batches: { group: string | null; ns: number[] }[] = [];
    await startWorker(t.arbiter, {
      concurrency: 4,
      queues: {
        bulk: {
          batchSize: 5,
          batchHandler: async (jobs: Job<{ n: number }>[], ctx) => {
            batches.push({ group: jobs[0]!.groupKey, ns: jobs.map((j) => j.payload.n) });
            expect(new Set(jobs.map((j) => j.groupKey)).size).toBe(1);
            return jobs.map((j): Outcome | undefined => (j.payload.n === 3 ? ctx.fail('n is 3') : undefined));
          },
        },
      },
    });
    await q.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ payload: { n: i }, groupKey: 'g' })));
    await q.enqueueMany(Array.from({ length: 7 }, (_, i) => ({ payload: { n: 100 + i } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'bulk')) === 0, 'all processed');
    expect(await count(t.pool, t.schema, 'bulk_dlq')).toBe(1);
    const grouped = batches.filter((b) => b.group === 'g');
    for (const b of batches) expect(b.ns.length).toBeLessThanOrEqual(5);
    // FIFO inside the group: batches arrive in id order and never overlap.
    expect(grouped.flatMap((b) => b.ns)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(
      batches
        .flatMap((b) => b.ns)
        .filter((n) => n >= 100)
        .sort((a, b) => a - b),
    ).toEqual([100, 101, 102, 103, 104, 105, 106]);
  });

  it('a throwing batch handler fails every job of the batch through the error policy', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('bulkfail');
    await startWorker(t.arbiter, {
      queues: {
        bulkfail: {
          batchSize: 10,
          batchHandler: async () => {
            throw new Error('batch exploded');
          },
        },
      },
    });
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, maxAttempts: 1 })));
    await waitFor(async () => (await count(t.pool, t.schema, 'bulkfail_dlq')) === 3, 'three dead letters');
  });
});
