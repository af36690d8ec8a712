import { afterEach, describe, expect, it } from 'vitest';
import { AwaitedJobFailedError, WaitTimeoutError, type Job } from '../../src/index.js';
import type pg from 'pg';
import { toExecutor } from '../../src/db/pg-executor.js';
import { eventEmit, stepWaitEvent } from '../../src/db/queries/steps.js';
import type { JobContext } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// ctx.waitFor parks a job until arbiter.emit(name) or its timeout; each waiter is released exactly once,
// including when the event is emitted while the waiter is being parked.
const t = useTestDb({ poolSize: 20 });
afterEach(stopAll);

describe('ctx.waitFor', () => {
  it('parks the job (no slot, no attempt), then returns the emitted payload on the next run', async () => {
    const q = await t.arbiter.createQueue<{ order: string }>('orders');
    const got: unknown[] = [];
    const charged: string[] = [];
    let runs = 0;
    await startWorker(t.arbiter, {
      concurrency: 1,
      queues: {
        orders: {
          handler: async (job: Job<{ order: string }>, ctx) => {
            runs++;
            await ctx.step('charge', () => charged.push(job.payload.order));
            const shipped = await ctx.waitFor<{ carrier: string }>(`shipped:${job.payload.order}`);
            got.push(shipped);
          },
        },
      },
    });
    const job = (await q.enqueue({ order: 'o1' }, { maxAttempts: 1 }))!;
    const wait = await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    expect(wait).toMatchObject({ kind: 'event', event: 'shipped:o1', until: null, step: '$wait:1' });
    expect((await q.jobs.get(job.id))!.suspended).toBe(true);
    expect(await t.arbiter.event('shipped:o1')).toMatchObject({ waiting: 1, emits: 0, emittedAt: null });
    expect(await t.arbiter.emit('shipped:o1', { carrier: 'ups' })).toEqual({ released: 1 });
    await waitFor(async () => (await count(t.pool, t.schema, 'orders')) === 0, 'job finished');
    expect(got).toEqual([{ carrier: 'ups' }]);
    expect(charged).toEqual(['o1']);
    expect(runs).toBe(2);
    expect(await t.arbiter.event('shipped:o1')).toMatchObject({ waiting: 0, emits: 1, released: 1 });
    // A second emit releases nobody.
    expect(await t.arbiter.emit('shipped:o1', { carrier: 'dhl' })).toEqual({ released: 0 });
  });

  it('an event emitted before the wait is returned at once (events are latched)', async () => {
    const q = await t.arbiter.createQueue('latched');
    await t.arbiter.emit('ready:1', 42);
    const got: unknown[] = [];
    await startWorker(t.arbiter, {
      queues: { latched: { handler: async (_job, ctx) => void got.push(await ctx.waitFor('ready:1')) } },
    });
    await q.enqueue({});
    await waitFor(async () => (await count(t.pool, t.schema, 'latched')) === 0, 'job finished');
    expect(got).toEqual([42]);
  });

  it('times out with WaitTimeoutError, which the handler can catch', async () => {
    const q = await t.arbiter.createQueue('timeouts');
    const outcome: unknown[] = [];
    await startWorker(t.arbiter, {
      queues: {
        timeouts: {
          handler: async (_job, ctx) => {
            try {
              outcome.push(await ctx.waitFor('never', { timeoutMs: 300 }));
            } catch (err) {
              if (!(err instanceof WaitTimeoutError)) throw err;
              outcome.push(`timeout:${err.event}`);
            }
          },
        },
      },
    });
    const job = (await q.enqueue({}, { maxAttempts: 1 }))!;
    const wait = await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    expect(wait!.until).toBeInstanceOf(Date);
    expect((await q.jobs.get(job.id))!.suspended).toBe(false);
    await waitFor(async () => (await count(t.pool, t.schema, 'timeouts')) === 0, 'job finished');
    expect(outcome).toEqual(['timeout:never']);
    // The late event finds no waiter.
    expect(await t.arbiter.emit('never', 1)).toEqual({ released: 0 });
  });

  it('emit inside a caller transaction releases only when it commits', async () => {
    const q = await t.arbiter.createQueue('tx_emit');
    const got: unknown[] = [];
    await startWorker(t.arbiter, {
      queues: { tx_emit: { handler: async (_job, ctx) => void got.push(await ctx.waitFor('tx:1')) } },
    });
    const job = (await q.enqueue({}))!;
    await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    const c = await t.connect();
    await c.query('BEGIN');
    expect(await t.arbiter.emit('tx:1', 'rolled back', { tx: c })).toEqual({ released: 1 });
    await c.query('ROLLBACK');
    expect(await q.jobs.waiting(job.id)).not.toBeNull();
    expect(await t.arbiter.event('tx:1')).toMatchObject({ emits: 0, waiting: 1 });
    await c.query('BEGIN');
    await t.arbiter.emit('tx:1', 'committed', { tx: c });
    await c.query('COMMIT');
    await waitFor(async () => (await count(t.pool, t.schema, 'tx_emit')) === 0, 'job finished');
    expect(got).toEqual(['committed']);
  });

  it('bad input is a typed error and writes nothing', async () => {
    await expect(t.arbiter.emit('', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(t.arbiter.emit('$job:x:1', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(t.arbiter.emit('x'.repeat(201), 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(t.arbiter.emit('f', () => 1)).rejects.toMatchObject({ code: 'PAYLOAD_NOT_SERIALIZABLE' });
    await expect(t.arbiter.emit('f', 1, { bogus: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(await count(t.pool, t.schema, '_events', `name IN ('', 'f')`)).toBe(0);
  });
});

describe('an event emitted while its waiter is being parked', () => {
  it('releases the waiter exactly once, whichever commits first (direct race, many iterations)', async () => {
    const q = await t.arbiter.createQueue('race_park');
    const store = t.arbiter.store('race_park');
    const a = await t.connect();
    const b = await t.connect();
    const N = 300;
    const ids: string[] = [];
    for (let i = 0; i < N; i += 100)
      ids.push(
        ...(await q.enqueueMany(Array.from({ length: 100 }, () => ({ payload: {} })))).map((j) => j!.id),
      );
    const claimed = await q.claim({ limit: N, leaseMs: 600_000 });
    expect(claimed.length).toBe(N);
    let parkedFirst = 0;
    let emittedFirst = 0;
    for (let i = 0; i < N; i++) {
      const job = claimed[i]!;
      const event = `race:${job.id}`;
      const park = () =>
        stepWaitEvent(
          store.using(toExec(a)).db,
          store.t,
          { id: job.id, attempts: job.attempts },
          '$wait:1',
          event,
          null,
        );
      const emit = () => eventEmit(toExec(b), t.schema, event, JSON.stringify({ i }));
      // Alternate which side starts first, and let them overlap on two connections.
      const [p, e] =
        i % 2 === 0 ? await Promise.all([park(), emit()]) : (await Promise.all([emit(), park()])).reverse();
      const parked = p as Awaited<ReturnType<typeof park>>;
      const released = e as number;
      if (parked.state === 'parked') {
        expect(released).toBe(1);
        parkedFirst++;
      } else {
        expect(parked).toEqual({ state: 'released', result: { i } });
        expect(released).toBe(0);
        emittedFirst++;
      }
    }
    // Every job has its step recorded once, no wait left, and is runnable (not suspended, no lease held
    // by a parked one; the ones released before parking are still held by their claim).
    expect(await count(t.pool, t.schema, '_steps', `queue = 'race_park' AND name = '$wait:1'`)).toBe(N);
    expect(await count(t.pool, t.schema, '_waits', `queue = 'race_park'`)).toBe(0);
    expect(await count(t.pool, t.schema, 'race_park', 'suspended')).toBe(0);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT sum(released)::int AS n FROM "${t.schema}"._events WHERE name LIKE 'race:%'`,
    );
    expect(rows[0]!.n).toBe(N);
    expect(parkedFirst + emittedFirst).toBe(N);
    // Both orders happened (the two sides really raced).
    expect(parkedFirst).toBeGreaterThan(0);
    expect(emittedFirst).toBeGreaterThan(0);
    expect(ids.length).toBe(N);
  });

  it('through workers: every waiter runs past its wait exactly once with its own payload', async () => {
    const q = await t.arbiter.createQueue<{ k: number }>('race_workers');
    const N = 200;
    const after = new Map<number, unknown[]>();
    let parks = 0;
    const handler = async (job: Job<{ k: number }>, ctx: JobContext) => {
      const payload = await ctx.waitFor(`go:${job.payload.k}`);
      await ctx.step('after', () => {
        const list = after.get(job.payload.k) ?? [];
        list.push(payload);
        after.set(job.payload.k, list);
      });
    };
    const w1 = await startWorker(t.arbiter, { concurrency: 4, queues: { race_workers: { handler } } });
    const w2 = await startWorker(t.arbiter, { concurrency: 4, queues: { race_workers: { handler } } });
    for (const w of [w1, w2]) w.on('job:parked', () => parks++);
    await q.enqueueMany(Array.from({ length: N }, (_, k) => ({ payload: { k } })));
    // Emit from several connections while the jobs are being claimed and parked: some events land
    // before their waiter parks, some during, some after.
    const order = Array.from({ length: N }, (_, k) => k).sort(() => Math.random() - 0.5);
    const lanes = 4;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let i = lane; i < N; i += lanes) await t.arbiter.emit(`go:${order[i]}`, { k: order[i] });
      }),
    );
    await waitFor(
      async () => (await count(t.pool, t.schema, 'race_workers')) === 0,
      'all jobs finished',
      60_000,
    );
    for (let k = 0; k < N; k++) expect(after.get(k), `job ${k}`).toEqual([{ k }]);
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT sum(released)::int AS n FROM "${t.schema}"._events WHERE name LIKE 'go:%'`,
    );
    expect(rows[0]!.n).toBe(N);
    expect(await count(t.pool, t.schema, '_waits', `queue = 'race_workers'`)).toBe(0);
    expect(parks).toBeLessThanOrEqual(N);
  });
});

function toExec(c: pg.Client) {
  return toExecutor(c, { preparedStatements: false });
}

describe('an event emitted as its wait times out', () => {
  it('each waiter ends exactly one way: with the payload (counted as released) or timed out', async () => {
    const q = await t.arbiter.createQueue<{ k: number }>('race_timeout');
    const N = 120;
    const ends = new Map<number, string[]>();
    const handler = async (job: Job<{ k: number }>, ctx: JobContext) => {
      let end: string;
      try {
        end = `payload:${String(await ctx.waitFor(`deadline:${job.payload.k}`, { timeoutMs: 300 }))}`;
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        end = 'timeout';
      }
      await ctx.step('end', () => {
        ends.set(job.payload.k, [...(ends.get(job.payload.k) ?? []), end]);
      });
    };
    await startWorker(t.arbiter, { concurrency: 8, queues: { race_timeout: { handler } } });
    await startWorker(t.arbiter, { concurrency: 8, queues: { race_timeout: { handler } } });
    const jobs = await q.enqueueMany(Array.from({ length: N }, (_, k) => ({ payload: { k } })));
    // Emit each event around its waiter's deadline (a random delay: the race itself), some before, some
    // after, some as the timed-out job runs.
    await Promise.all(
      jobs.map(async (job, k) => {
        // Parked, or already gone (timed out and finished before this looked).
        const parked = async () => (await q.jobs.waiting(job!.id)) ?? (await q.jobs.get(job!.id)) === null;
        await waitFor(parked, `job ${k} parks`, 30_000, 10);
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 300));
        await t.arbiter.emit(`deadline:${k}`, k);
      }),
    );
    await waitFor(async () => (await count(t.pool, t.schema, 'race_timeout')) === 0, 'all finished', 60_000);
    let released = 0;
    for (let k = 0; k < N; k++) {
      const e = ends.get(k);
      expect(e, `job ${k}`).toHaveLength(1);
      expect([`payload:${k}`, 'timeout']).toContain(e![0]);
      if (e![0] !== 'timeout') released++;
    }
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT coalesce(sum(released), 0)::int AS n FROM "${t.schema}"._events WHERE name LIKE 'deadline:%'`,
    );
    expect(rows[0]!.n).toBe(released);
  });
});

describe('ctx.run', () => {
  it('enqueues a job on another queue once and returns its result on the next run', async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('run_parents');
    await t.arbiter.createQueue<{ n: number }>('run_children');
    const results: unknown[] = [];
    let parentRuns = 0;
    let childRuns = 0;
    await startWorker(t.arbiter, {
      queues: {
        run_parents: {
          backoff: { type: 'linear', delayMs: 10 },
          handler: async (job: Job<{ n: number }>, ctx) => {
            parentRuns++;
            const doubled = await ctx.run<number>('run_children', { n: job.payload.n });
            // Fails once after the child's result came back: the retry must not enqueue it again.
            if (parentRuns === 2) throw new Error('after the child');
            // Catch only what is expected: parking ends the run by throwing through the handler.
            const failed = await ctx
              .run('run_children', { n: -1 }, { enqueue: { maxAttempts: 1 } })
              .catch((e: unknown) => {
                if (e instanceof AwaitedJobFailedError) return e;
                throw e;
              });
            results.push(doubled, (failed as AwaitedJobFailedError).error);
          },
        },
        run_children: {
          handler: (job: Job<{ n: number }>) => {
            childRuns++;
            if (job.payload.n < 0) throw new Error('negative');
            return job.payload.n * 2;
          },
        },
      },
    });
    const job = (await parents.enqueue({ n: 21 }, { maxAttempts: 3 }))!;
    await waitFor(async () => (await count(t.pool, t.schema, 'run_parents')) === 0, 'parent finished');
    expect(results).toEqual([42, expect.stringContaining('negative')]);
    const steps = await parents.jobs.steps(job.id);
    expect(steps.filter((s) => s.kind === 'run').length).toBe(2);
    // The failed child reported from its dead-letter move: the dead letter is there with the report.
    expect(await count(t.pool, t.schema, 'run_children_dlq')).toBe(1);
    expect(await count(t.pool, t.schema, 'run_children')).toBe(0);
    expect(childRuns).toBe(2);
  });
});
