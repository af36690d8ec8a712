import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { outcomes } from '../../src/worker/index.js';
import { shiftJob, useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('handler outcomes', () => {
  it('returning normally deletes the job; claimed/started/succeeded events fire', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('plain');
    const seen: number[] = [];
    const events: string[] = [];
    const w = await startWorker<{ plain: { n: number } }>(t.arbiter, {
      queues: { plain: { handler: async (job: Job<{ n: number }>) => void seen.push(job.payload.n) } },
    });
    w.on('job:claimed', () => events.push('claimed'));
    w.on('job:started', () => events.push('started'));
    w.on('job:succeeded', () => events.push('succeeded'));
    await q.enqueueMany([1, 2, 3, 4, 5].map((n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'plain')) === 0, 'queue drained');
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
    await waitFor(() => events.filter((e) => e === 'succeeded').length === 5, 'succeeded events');
    expect(events.filter((e) => e === 'claimed')).toHaveLength(5);
  });

  it('the context works destructured: helpers, signal, workerId and extendLease', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('destructured');
    const seen: { n: number; attempts: number; aborted: boolean; worker: string; extended: boolean }[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        destructured: {
          handler: async (job: Job<{ n: number }>, { done, snooze, signal, workerId, extendLease }) => {
            const extended = await extendLease(60_000);
            seen.push({
              n: job.payload.n,
              attempts: job.attempts,
              aborted: signal.aborted,
              worker: workerId,
              extended,
            });
            // Snooze once, then finish with a result-less done (the shared outcome).
            return seen.filter((s) => s.n === job.payload.n).length === 1 ? snooze(50) : done();
          },
        },
      },
    });
    await q.enqueueMany([1, 2].map((n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'destructured')) === 0, 'queue drained');
    expect(seen).toHaveLength(4);
    for (const s of seen) expect(s).toMatchObject({ aborted: false, worker: w.id, extended: true });
    // Each job ran twice: snoozed on its first run (attempts still count up: they fence), done on its second.
    expect(seen.map((s) => `${s.n}:${s.attempts}`).sort()).toEqual(['1:1', '1:2', '2:1', '2:2']);
  });

  it('retry after a delay spends an attempt and records the error; retryAt honours the time', async () => {
    const q = await t.arbiter.createQueue<{ k: string }>('retries');
    const attempts = new Map<string, number[]>();
    await startWorker(t.arbiter, {
      queues: {
        retries: {
          handler: async (job: Job<{ k: string }>, ctx) => {
            attempts.set(job.payload.k, [...(attempts.get(job.payload.k) ?? []), job.attempts]);
            if (job.attempts >= 2) return undefined;
            return job.payload.k === 'after'
              ? ctx.retryAfter(300, 'try later')
              : ctx.retryAt(new Date(Date.now() + 300), 'at a time');
          },
        },
      },
    });
    const a = (await q.enqueue({ k: 'after' }))!;
    const b = (await q.enqueue({ k: 'at' }))!;
    await waitFor(async () => {
      const { rows } = await t.pool.query(`SELECT last_error FROM "${t.schema}".retries WHERE id = $1`, [
        a.id,
      ]);
      return rows[0]?.last_error === 'try later';
    }, 'retry recorded');
    await waitFor(
      async () => (await count(t.pool, t.schema, 'retries')) === 0,
      'both done on attempt 2',
      5_000,
    );
    expect(attempts.get('after')).toEqual([1, 2]);
    expect(attempts.get('at')).toEqual([1, 2]);
    expect(b.id).toBeDefined();
  });

  it('remove deletes; fail goes straight to the dead-letter table with the error', async () => {
    const q = await t.arbiter.createQueue<{ k: string }>('terminal');
    await startWorker(t.arbiter, {
      queues: {
        terminal: {
          handler: async (job: Job<{ k: string }>) =>
            job.payload.k === 'remove' ? outcomes.remove() : outcomes.fail(new Error('card declined')),
        },
      },
    });
    await q.enqueue({ k: 'remove' }, { maxAttempts: 5 });
    const f = (await q.enqueue({ k: 'fail' }, { maxAttempts: 5 }))!;
    await waitFor(async () => (await count(t.pool, t.schema, 'terminal')) === 0, 'both gone');
    const { rows } = await t.pool.query(
      `SELECT job_id::text, attempts, last_error FROM "${t.schema}".terminal_dlq`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ job_id: f.id, attempts: 1 });
    expect(rows[0].last_error).toContain('card declined');
  });

  it('snooze runs the job again later without spending an attempt (budget raised by one)', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('snoozy');
    const runs: number[] = [];
    await startWorker(t.arbiter, {
      queues: {
        snoozy: {
          handler: async (job: Job<{ n: number }>, ctx) => {
            runs.push(job.attempts);
            if (runs.length < 3) return ctx.snooze(50);
            return undefined;
          },
        },
      },
    });
    // maxAttempts 1: without the refund the second run could never be claimed.
    await q.enqueue({ n: 1 }, { maxAttempts: 1 });
    await waitFor(async () => (await count(t.pool, t.schema, 'snoozy')) === 0, 'done after two snoozes');
    expect(runs).toEqual([1, 2, 3]);
    expect(await count(t.pool, t.schema, 'snoozy_dlq')).toBe(0);
  });

  it('exceptions retry with backoff until maxAttempts, then dead-letter; onError can override', async () => {
    const q = await t.arbiter.createQueue<{ k: string }>('throws');
    const retried: number[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        throws: {
          backoff: { type: 'linear', delayMs: 20 },
          handler: async (job: Job<{ k: string }>) => {
            if (job.payload.k === 'string') throw 'plain string thrown';
            throw new Error(`boom ${job.attempts}`, { cause: new Error('root cause') });
          },
          onError: (_err, job) =>
            job.payload.k === 'permanent' ? outcomes.fail('not retryable') : undefined,
        },
      },
    });
    w.on('job:retried', (e) => retried.push(e.delayMs));
    const a = (await q.enqueue({ k: 'retry' }, { maxAttempts: 3 }))!;
    await q.enqueue({ k: 'permanent' }, { maxAttempts: 3 });
    await q.enqueue({ k: 'string' }, { maxAttempts: 1 });
    await waitFor(
      async () => (await count(t.pool, t.schema, 'throws_dlq')) === 3,
      'three dead letters',
      10_000,
    );
    const { rows } = await t.pool.query(
      `SELECT job_id::text, attempts, last_error FROM "${t.schema}".throws_dlq ORDER BY job_id`,
    );
    const byId = new Map(rows.map((r) => [r.job_id, r]));
    expect(byId.get(a.id)).toMatchObject({ attempts: 3 });
    expect(byId.get(a.id).last_error).toMatch(
      /attempts exhausted \(3\): Error: boom 3\n {2}caused by Error: root cause/,
    );
    expect(rows.find((r) => r.last_error === 'not retryable')).toMatchObject({ attempts: 1 });
    expect(rows.find((r) => r.last_error.includes('plain string thrown'))).toBeTruthy();
    // linear backoff: 20 ms after attempt 1, 40 ms after attempt 2
    expect(retried).toEqual([20, 40]);
  });

  it('a job whose lease is lost mid-run has its signal aborted and its late ack rejected', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('stolen');
    let aborted: unknown;
    const lost: string[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        stolen: {
          leaseMs: 600,
          handler: async (_job: Job<{ n: number }>, ctx) =>
            new Promise<void>((resolve) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = ctx.signal.reason;
                resolve();
              });
            }),
        },
      },
    });
    w.on('job:lease-lost', (e) => lost.push(e.status));
    const job = (await q.enqueue({ n: 1 }))!;
    await waitFor(
      async () => (await count(t.pool, t.schema, 'stolen', 'leased_until > now()')) === 1,
      'claimed',
    );
    // Someone else takes the job over: a newer attempt.
    await shiftJob(t.pool, t.schema, 'stolen', job.id, 'attempts = attempts + 1');
    await waitFor(() => aborted !== undefined, 'handler aborted by heartbeat');
    expect(lost).toContain('stolen');
    expect(String(aborted)).toMatch(/lease lost/);
    expect(await count(t.pool, t.schema, 'stolen')).toBe(1);
  });
});
