import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { WorkerEventEmitter } from '../../src/worker/index.js';
import { RetentionPruner } from '../../src/worker/retention.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

const write = (id: string, attempts: number, progress: number) => ({
  id,
  attempts,
  progress: String(progress),
  meta: null,
  logs: null,
});

describe('job reports (ctx.progress, ctx.setMeta, ctx.log)', () => {
  it('are visible while the job runs, and the last value is written when it ends', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('live');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await startWorker(t.arbiter, {
      queues: {
        live: {
          handler: async (_job: Job<{ n: number }>, { progress, setMeta, log }) => {
            progress(10);
            setMeta({ stage: 'download' });
            log('started');
            await gate;
            for (let i = 11; i <= 100; i++) progress(i);
            setMeta({ stage: 'done', rows: 3 });
            log('finished');
          },
        },
      },
    });
    const job = (await q.enqueue({ n: 1 }))!;
    const live = await waitFor(async () => {
      const r = await q.jobs.report(job.id);
      return r && r.logs.length === 1 ? r : null;
    }, 'the first report');
    if (!live) throw new Error('no report');
    expect(live).toMatchObject({ attempt: 1, progress: 10, meta: { stage: 'download' } });
    expect(live.logs[0]).toMatchObject({ attempt: 1, message: 'started' });
    expect(live.logs[0]!.at).toBeInstanceOf(Date);
    release();
    await waitFor(async () => (await count(t.pool, t.schema, 'live')) === 0, 'job finished');
    const final = (await q.jobs.report(job.id))!;
    expect(final).toMatchObject({ attempt: 1, progress: 100, meta: { stage: 'done', rows: 3 } });
    expect(final.logs.map((l) => l.message)).toEqual(['started', 'finished']);
  });

  it('a stale attempt cannot write; a new attempt resets progress and keeps the older lines', async () => {
    const q = await t.arbiter.createQueue('fenced');
    const store = t.arbiter.store('fenced');
    const job = (await q.enqueue({}))!;
    const [first] = await q.claim({ leaseMs: 60_000 });
    expect(
      await store.writeProgress({ ...write(job.id, 1, 5), logs: '[{"at":1,"attempt":1,"message":"a"}]' }),
    ).toBe(true);
    expect(await store.writeProgress(write(job.id, 2, 5))).toBe(false); // not claimed at attempt 2
    // The job is released for another run; a second claim takes it at attempt 2.
    expect(await q.retry(first!, { delayMs: 0 })).toBe(1);
    const [second] = await q.claim({ leaseMs: 60_000 });
    expect(second!.attempts).toBe(2);
    expect(await store.writeProgress(write(first!.id, 1, 99))).toBe(false);
    expect((await q.jobs.report(job.id))!.progress).toBe(5);
    expect(
      await store.writeProgress({
        id: job.id,
        attempts: 2,
        progress: null,
        meta: '{"k":1}',
        logs: '[{"at":2,"attempt":2,"message":"b"}]',
      }),
    ).toBe(true);
    const r = (await q.jobs.report(job.id))!;
    expect(r).toMatchObject({ attempt: 2, progress: null, meta: { k: 1 } });
    expect(r.logs.map((l) => `${l.attempt}:${l.message}`)).toEqual(['1:a', '2:b']);
    // In one statement for many jobs, each write is fenced on its own.
    const other = (await q.enqueue({}))!;
    const [held] = await q.claim({ leaseMs: 60_000 });
    expect(held!.id).toBe(other.id);
    const many = await store.writeProgressMany([write(other.id, 1, 11), write(job.id, 1, 12)]);
    expect([...many]).toEqual([other.id]);
    expect((await q.jobs.report(other.id))!.progress).toBe(11);
    // Once acked, the job is gone: a late write of the attempt that held it is refused.
    expect(await q.ack(second!)).toBe(1);
    expect(await store.writeProgress(write(job.id, 2, 7))).toBe(false);
    expect((await q.jobs.report(job.id))!.progress).toBe(null);
  });

  it('keeps only the newest 200 lines of a job', async () => {
    const q = await t.arbiter.createQueue('chatty');
    await startWorker(t.arbiter, {
      queues: {
        chatty: {
          handler: (_job, { log }) => {
            for (let i = 0; i < 250; i++) log(`line ${i}`);
          },
        },
      },
    });
    const job = (await q.enqueue({}))!;
    await waitFor(async () => (await count(t.pool, t.schema, 'chatty')) === 0, 'job finished');
    const r = (await q.jobs.report(job.id))!;
    expect(r.logs).toHaveLength(200);
    expect(r.logs[0]!.message).toBe('line 50');
    expect(r.logs.at(-1)!.message).toBe('line 249');
  });

  it('racing workers: every job ends with the last progress of the attempt that finished it', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('racing');
    const handler = async (
      job: Job<{ n: number }>,
      ctx: { progress(v: number): void; log(m: string): void },
    ) => {
      for (let i = 1; i <= 20; i++) {
        ctx.progress(i);
        if (i % 5 === 0) ctx.log(`step ${i}`);
        await new Promise((r) => setImmediate(r));
      }
      // Every third job fails its first attempt after reporting: its retry reports again.
      if (job.payload.n % 3 === 0 && job.attempts === 1) throw new Error('first attempt fails');
    };
    const options = {
      concurrency: 8,
      queues: { racing: { handler, backoff: { type: 'linear' as const, delayMs: 10 } } },
    };
    await Promise.all([startWorker(t.arbiter, options), startWorker(t.arbiter, options)]);
    const jobs = await q.enqueueMany(Array.from({ length: 60 }, (_, n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'racing')) === 0, 'all jobs finished', 30_000);
    for (const [n, job] of jobs.entries()) {
      const r = (await q.jobs.report(job!.id))!;
      const attempt = n % 3 === 0 ? 2 : 1;
      expect({ n, attempt: r.attempt, progress: r.progress }).toEqual({ n, attempt, progress: 20 });
      expect(r.logs.map((l) => l.message)).toEqual(
        Array.from({ length: attempt }, () => ['step 5', 'step 10', 'step 15', 'step 20']).flat(),
      );
    }
  });

  it('are pruned by retention after the longer of the history and dead-letter ages', async () => {
    const DAY = 86_400_000;
    await t.arbiter.createQueue('pruned');
    await t.arbiter.setQueueRetention('pruned', { historyMaxAgeMs: DAY, deadLetterMaxAgeMs: 2 * DAY });
    await t.pool.query(
      `INSERT INTO "${t.schema}"._job_progress (queue, job_id, attempt, progress, updated_at)
       SELECT 'pruned', i, 1, '1'::jsonb, now() - (CASE WHEN i <= 30 THEN 3 ELSE 1.5 END) * interval '1 day'
         FROM generate_series(1, 40) i
       UNION ALL SELECT 'other', i, 1, '1'::jsonb, now() - interval '100 days' FROM generate_series(1, 3) i`,
    );
    const events = new WorkerEventEmitter();
    const p = new RetentionPruner({ arbiter: t.arbiter, events, batchRows: 7 });
    const reports = await p.round();
    expect(reports.filter((r) => r.table === 'reports')).toEqual([
      { queue: 'pruned', table: 'reports', reason: 'age', count: 30 },
    ]);
    const left = await t.pool.query<{ queue: string; n: string }>(
      `SELECT queue, count(*) AS n FROM "${t.schema}"._job_progress WHERE queue IN ('pruned', 'other') GROUP BY queue ORDER BY queue`,
    );
    // A queue that is not in the registry is nobody's to prune.
    expect(left.rows).toEqual([
      { queue: 'other', n: '3' },
      { queue: 'pruned', n: '10' },
    ]);
  });

  it("a job's last report goes with its ack, under the ack's fence", async () => {
    const q = await t.arbiter.createQueue('carried');
    const store = t.arbiter.store('carried');
    const [a, b, c] = (await q.enqueueMany([{ payload: {} }, { payload: {} }, { payload: {} }])) as Job[];
    const held = await q.claim({ limit: 3, leaseMs: 60_000 });
    expect(held.map((j) => j.id).sort()).toEqual([a!.id, b!.id, c!.id].sort());
    const ack = { type: 'ack' as const, result: null };
    const written = await store.complete([
      { fence: { id: a!.id, attempts: 1 }, inTree: false, action: ack, report: write(a!.id, 1, 100) },
      // A stale attempt: neither its ack nor its report is written.
      { fence: { id: b!.id, attempts: 7 }, inTree: false, action: ack, report: write(b!.id, 7, 50) },
      { fence: { id: c!.id, attempts: 1 }, inTree: false, action: ack },
    ]);
    expect(written).toEqual([true, false, true]);
    expect((await q.jobs.report(a!.id))!.progress).toBe(100);
    expect(await q.jobs.report(b!.id)).toBe(null);
    expect(await q.jobs.report(c!.id)).toBe(null);
    expect(await count(t.pool, t.schema, 'carried')).toBe(1);
    // A retry carries its report too (written first, fenced, then the retry).
    const retried = await store.complete([
      {
        fence: { id: b!.id, attempts: 1 },
        inTree: false,
        action: { type: 'retry', delayMs: 0, error: 'boom' },
        report: { ...write(b!.id, 1, 60), logs: '[{"at":1,"attempt":1,"message":"before the retry"}]' },
      },
    ]);
    expect(retried).toEqual([true]);
    expect(await q.jobs.report(b!.id)).toMatchObject({ attempt: 1, progress: 60 });
  });

  it('a handler that reports once and returns: the report is written with its outcome, for every job', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('quick');
    await startWorker(t.arbiter, {
      concurrency: 8,
      queues: { quick: { handler: (job: Job<{ n: number }>, { progress }) => progress(job.payload.n) } },
    });
    const jobs = await q.enqueueMany(Array.from({ length: 200 }, (_, n) => ({ payload: { n } })));
    await waitFor(async () => (await count(t.pool, t.schema, 'quick')) === 0, 'all jobs finished');
    for (const [n, job] of jobs.entries()) {
      expect({ n, report: await q.jobs.report(job!.id) }).toMatchObject({
        n,
        report: { attempt: 1, progress: n, meta: null, logs: [] },
      });
    }
    // Each went with its ack: no row of its own, a few shared rows (one per ack statement and run of ids).
    const own = await t.pool.query(`SELECT 1 FROM "${t.schema}"._job_progress WHERE queue = 'quick'`);
    expect(own.rowCount).toBe(0);
    const shared = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}"._job_final_reports WHERE queue = 'quick'`,
    );
    expect(shared.rows[0]!.n).toBeLessThanOrEqual(200);
  });
});
