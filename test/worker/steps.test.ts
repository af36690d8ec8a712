import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateStepError, WaitTimeoutError, type Job } from '../../src/index.js';
import { stepRecord } from '../../src/db/queries/steps.js';
import { WorkerEventEmitter, type JobContext } from '../../src/worker/index.js';
import { RetentionPruner } from '../../src/worker/retention.js';
import { createMetrics } from '../../src/metrics/index.js';
import { drain } from '../../src/testing/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// Durable steps: ctx.step stores results so later runs skip finished steps; ctx.sleep parks the job
// without spending an attempt; steps are fenced like every write after a claim.
const t = useTestDb();
afterEach(stopAll);

describe('ctx.step', () => {
  it('a retry skips finished steps and returns their stored results', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('retry_steps');
    const ran: string[] = [];
    const seen: unknown[] = [];
    let runs = 0;
    await startWorker(t.arbiter, {
      queues: {
        retry_steps: {
          backoff: { type: 'linear', delayMs: 10 },
          handler: async (job: Job<{ n: number }>, ctx) => {
            runs++;
            const a = await ctx.step('a', () => {
              ran.push('a');
              return { at: new Date(0), n: job.payload.n };
            });
            const b = await ctx.step('b', async () => {
              ran.push('b');
              return 7;
            });
            await ctx.step('nothing', () => {
              ran.push('nothing');
            });
            seen.push([a, b]);
            if (runs < 3) throw new Error(`fails on run ${runs}`);
            return ctx.done();
          },
        },
      },
    });
    const job = (await q.enqueue({ n: 5 }, { maxAttempts: 5 }))!;
    await waitFor(async () => (await count(t.pool, t.schema, 'retry_steps')) === 0, 'job finished');
    expect(runs).toBe(3);
    expect(ran).toEqual(['a', 'b', 'nothing']);
    // The first run sees the JSON round trip too, so every run sees the same values.
    const expected = [{ at: new Date(0).toISOString(), n: 5 }, 7];
    expect(seen).toEqual([expected, expected, expected]);
    expect(job.id).toBeTruthy();
  });

  it('are swept once their job is gone, and kept with the job in history or in the dead letters', async () => {
    const names = ['sweep_gone', 'sweep_kept', 'sweep_dead'];
    for (const n of names) await t.arbiter.createQueue(n);
    const handler = async (job: Job, ctx: JobContext) => {
      await ctx.step('one', () => 1);
      await ctx.waitFor(`sweep:${job.queue}`, { timeoutMs: 60_000 }).catch(() => undefined);
      if (job.queue === 'sweep_dead') throw new Error('to the dead letters');
    };
    await startWorker(t.arbiter, {
      queues: {
        sweep_gone: { handler },
        sweep_kept: { handler, keepProcessed: true },
        sweep_dead: { handler },
      },
    });
    const jobs = await Promise.all(
      names.map(async (n) => (await t.arbiter.queue(n).enqueue({}, { maxAttempts: 1 }))!),
    );
    for (const [i, n] of names.entries())
      await waitFor(() => t.arbiter.queue(n).jobs.waiting(jobs[i]!.id), 'parked');
    // A parked job keeps its steps and its wait through a sweep.
    await new RetentionPruner({ arbiter: t.arbiter, events: new WorkerEventEmitter() }).round();
    expect(await count(t.pool, t.schema, '_steps', `queue LIKE 'sweep_%'`)).toBe(3);
    expect(await count(t.pool, t.schema, '_waits', `queue LIKE 'sweep_%'`)).toBe(3);
    for (const n of names) await t.arbiter.emit(`sweep:${n}`);
    for (const n of names)
      await waitFor(async () => (await count(t.pool, t.schema, n)) === 0, `${n} finished`);
    const reports = await new RetentionPruner({
      arbiter: t.arbiter,
      events: new WorkerEventEmitter(),
    }).round();
    expect(reports.filter((r) => r.table === 'steps')).toEqual([
      { queue: 'sweep_gone', table: 'steps', reason: 'gone', count: 2 },
    ]);
    expect(await t.arbiter.queue('sweep_gone').jobs.steps(jobs[0]!.id)).toEqual([]);
    expect((await t.arbiter.queue('sweep_kept').jobs.steps(jobs[1]!.id)).map((s) => s.kind)).toEqual([
      'step',
      'event',
    ]);
    expect((await t.arbiter.queue('sweep_dead').jobs.steps(jobs[2]!.id)).map((s) => s.kind)).toEqual([
      'step',
      'event',
    ]);
    expect(await count(t.pool, t.schema, '_waits', `queue LIKE 'sweep_%'`)).toBe(0);
  });

  it('duplicate step names in one run are a typed error', async () => {
    const q = await t.arbiter.createQueue('dup_steps');
    const errors: unknown[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        dup_steps: {
          handler: async (_job, ctx) => {
            await ctx.step('same', () => 1);
            await ctx.step('same', () => 2);
          },
        },
      },
    });
    w.on('job:failed', (e) => errors.push(e.error));
    await q.enqueue({}, { maxAttempts: 1 });
    await waitFor(() => errors.length > 0, 'the run failed');
    expect(errors[0]).toBeInstanceOf(DuplicateStepError);
    expect((errors[0] as DuplicateStepError).code).toBe('DUPLICATE_STEP');
  });

  it('a stale attempt cannot record a step', async () => {
    const q = await t.arbiter.createQueue('fenced_steps');
    const store = t.arbiter.store('fenced_steps');
    const job = (await q.enqueue({}))!;
    const [first] = await q.claim({ leaseMs: 60_000 });
    expect(first!.id).toBe(job.id);
    // Another attempt takes the job over (as a claim after the lease expired would).
    await t.pool.query(`UPDATE "${t.schema}".fenced_steps SET attempts = attempts + 1 WHERE id = $1`, [
      job.id,
    ]);
    expect(await stepRecord(store.db, store.t, { id: job.id, attempts: 1 }, 'x', '1')).toBe('fenced');
    expect(await stepRecord(store.db, store.t, { id: job.id, attempts: 2 }, 'x', '2')).toBe('written');
    expect(await stepRecord(store.db, store.t, { id: job.id, attempts: 2 }, 'x', '3')).toBe('exists');
    // A released job (no lease) is not held by anyone.
    await t.pool.query(`UPDATE "${t.schema}".fenced_steps SET leased_until = NULL WHERE id = $1`, [job.id]);
    expect(await stepRecord(store.db, store.t, { id: job.id, attempts: 2 }, 'y', '1')).toBe('fenced');
    const steps = await q.jobs.steps(job.id);
    expect(steps.map((s) => [s.name, s.result, s.attempt])).toEqual([['x', 2, 2]]);
  });

  it('a handler whose step write is fenced off stops, and its outcome is not written', async () => {
    const q = await t.arbiter.createQueue('lost_steps');
    let after = 0;
    let takenOver!: () => void;
    const gate = new Promise<void>((r) => (takenOver = r));
    const w = await startWorker(t.arbiter, {
      queues: {
        lost_steps: {
          handler: async (_job, ctx) => {
            await gate;
            await ctx.step('one', () => 1);
            after++;
          },
        },
      },
    });
    const lost: unknown[] = [];
    w.on('job:lease-lost', (e) => lost.push(e));
    w.on('job:succeeded', (e) => lost.push(e));
    const job = (await q.enqueue({}))!;
    await waitFor(async () => w.activeCount === 1, 'claimed');
    await t.pool.query(`UPDATE "${t.schema}".lost_steps SET attempts = 7 WHERE id = $1`, [job.id]);
    takenOver();
    await waitFor(() => w.activeCount === 0, 'the run ended');
    expect(after).toBe(0);
    expect(lost).toEqual([]);
    expect(await q.jobs.steps(job.id)).toEqual([]);
    expect((await q.jobs.get(job.id))!.attempts).toBe(7);
  });
});

describe('ctx.sleep', () => {
  it('ends the run, holds no slot, spends no attempt, and resumes after the steps before it', async () => {
    const q = await t.arbiter.createQueue('sleepers');
    const ran: string[] = [];
    let runs = 0;
    let other = 0;
    await startWorker(t.arbiter, {
      concurrency: 1,
      queues: {
        sleepers: {
          handler: async (job: Job<{ other?: boolean }>, ctx) => {
            if (job.payload.other) {
              other++;
              return;
            }
            runs++;
            await ctx.step('before', () => ran.push('before'));
            await ctx.sleep(400);
            await ctx.step('middle', () => ran.push('middle'));
            await ctx.sleepUntil(new Date(Date.now() + 200));
            await ctx.step('after', () => ran.push('after'));
          },
        },
      },
    });
    // One attempt only: sleeping twice must not spend it.
    const job = (await q.enqueue({}, { maxAttempts: 1 }))!;
    const parked = await waitFor(async () => q.jobs.waiting(job.id), 'the job sleeps');
    expect(parked).toMatchObject({ kind: 'sleep', event: null, step: '$sleep:1' });
    // The single slot is free while it sleeps.
    await q.enqueue({ other: true });
    await waitFor(() => other === 1, 'another job ran during the sleep');
    await waitFor(async () => (await count(t.pool, t.schema, 'sleepers')) === 0, 'sleeper finished');
    expect(ran).toEqual(['before', 'middle', 'after']);
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(await count(t.pool, t.schema, 'sleepers_dlq')).toBe(0);
  });

  it('rejects bad input with typed errors', async () => {
    const q = await t.arbiter.createQueue('bad_sleep');
    const errors: unknown[] = [];
    const w = await startWorker(t.arbiter, {
      queues: {
        bad_sleep: {
          handler: async (job: Job<{ k: string }>, ctx) => {
            if (job.payload.k === 'ms') await ctx.sleep(-1);
            if (job.payload.k === 'date') await ctx.sleepUntil(new Date('nope'));
            if (job.payload.k === 'name') await ctx.step('', () => 1);
            if (job.payload.k === 'reserved') await ctx.step('$x', () => 1);
            if (job.payload.k === 'event') await ctx.waitFor('');
            if (job.payload.k === 'result') await ctx.step('r', () => () => 1);
          },
        },
      },
    });
    w.on('job:failed', (e) => errors.push(e.error));
    for (const k of ['ms', 'date', 'name', 'reserved', 'event', 'result'])
      await q.enqueue({ k }, { maxAttempts: 1 });
    await waitFor(() => errors.length === 6, 'six failures');
    for (const e of errors)
      expect((e as { code?: string }).code).toMatch(/INVALID_ARGUMENT|PAYLOAD_NOT_SERIALIZABLE/);
    expect(await count(t.pool, t.schema, '_steps', `queue = 'bad_sleep'`)).toBe(0);
  });
});

describe('metrics', () => {
  it('count steps ran and replayed, and runs that parked', async () => {
    const q = await t.arbiter.createQueue('metric_steps');
    const metrics = createMetrics({ arbiter: t.arbiter, intervalMs: 0, queues: ['metric_steps'] });
    const w = await startWorker(t.arbiter, {
      queues: {
        metric_steps: {
          handler: async (_job, ctx) => {
            await ctx.step('one', () => 1);
            await ctx.step('two', () => 2);
            await ctx.sleep(50);
          },
        },
      },
    });
    metrics.attach(w);
    await q.enqueue({});
    await waitFor(async () => (await count(t.pool, t.schema, 'metric_steps')) === 0, 'job finished');
    const text = await metrics.registry.metrics();
    metrics.stop();
    expect(text).toContain('arbiter_steps_total{queue="metric_steps",how="ran"} 2');
    expect(text).toContain('arbiter_steps_total{queue="metric_steps",how="replayed"} 2');
    expect(text).toContain('arbiter_jobs_parked_total{queue="metric_steps"} 1');
  });
});

describe('drain (pg-arbiter/testing)', () => {
  it('runs steps, and leaves a waiting job parked until its event, then replays it', async () => {
    const q = await t.arbiter.createQueue<{ id: string }>('drained_steps');
    const effects: string[] = [];
    const handler = async (job: Job<{ id: string }>, ctx: JobContext) => {
      await ctx.step('charge', () => effects.push(`charge ${job.payload.id}`));
      const shipped = await ctx.waitFor<string>(`drain-shipped:${job.payload.id}`);
      effects.push(`notify ${shipped}`);
    };
    const job = (await q.enqueue({ id: 'd1' }))!;
    const first = await drain(q, handler);
    expect(first.runs).toEqual([]);
    expect(await q.jobs.waiting(job.id)).toMatchObject({ event: 'drain-shipped:d1' });
    await t.arbiter.emit('drain-shipped:d1', 'ups');
    const second = await drain(q, handler);
    expect(second.counts.done).toBe(1);
    expect(effects).toEqual(['charge d1', 'notify ups']);
  });
});

describe('WaitTimeoutError', () => {
  it('is typed', () => {
    const e = new WaitTimeoutError('x');
    expect(e.code).toBe('WAIT_TIMEOUT');
    expect(e.event).toBe('x');
  });
});
