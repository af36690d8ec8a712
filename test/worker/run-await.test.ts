import { afterEach, describe, expect, it } from 'vitest';
import { AwaitedJobFailedError, ValidationError, type Job } from '../../src/index.js';
import type { JobContext } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// How a job awaited by ctx.run reports its end to the job that awaits it: from inside the statement that
// ends it (ack, dead letter, cancel), so an operator's cancel reports too, and a completion write that is
// fenced off reports nothing. And ctx.run enqueues exactly as queue.enqueue does.
const t = useTestDb({ poolSize: 20 });
afterEach(stopAll);

type Outcome = { ok: unknown } | { state: string; error: string; code: string };

/** A parent handler that awaits one child and records what ctx.run gave it (a value or its error). */
function parentHandler(seen: Outcome[], child: (job: Job<{ n: number }>) => unknown, options = {}) {
  return async (job: Job<{ n: number }>, ctx: JobContext) => {
    try {
      seen.push({ ok: await ctx.run('children', child(job), options) });
    } catch (err) {
      if (!(err instanceof AwaitedJobFailedError) && !(err instanceof ValidationError)) throw err;
      const e = err as { state?: string; error?: string; message: string; code: string };
      seen.push({ state: e.state ?? 'invalid', error: e.error ?? e.message, code: e.code });
    }
  };
}

async function released(event: string): Promise<number> {
  const { rows } = await t.pool.query<{ released: number }>(
    `SELECT released FROM "${t.schema}"._events WHERE name = $1`,
    [event],
  );
  return rows[0]?.released ?? 0;
}

async function childOf(parentId: string): Promise<string> {
  const { rows } = await t.pool.query<{ result: { id: string } }>(
    `SELECT result FROM "${t.schema}"._steps WHERE queue = 'parents' AND job_id = $1 AND name = '$run:1:job'`,
    [parentId],
  );
  return rows[0]!.result.id;
}

describe('ctx.run: a child cancelled by an operator', () => {
  it('releases its parent once with AwaitedJobFailedError (state cancelled); a cancel rolled back releases nothing', async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    const children = await t.arbiter.createQueue('children');
    const seen: Outcome[] = [];
    let childRuns = 0;
    let parentRuns = 0;
    const handler = parentHandler(seen, (job) => ({ n: job.payload.n }), { enqueue: { delayMs: 3_600_000 } });
    await startWorker(t.arbiter, {
      queues: {
        parents: { handler: (job: Job<{ n: number }>, ctx) => (parentRuns++, handler(job, ctx)) },
        children: { handler: () => void childRuns++ },
      },
    });
    const parent = (await parents.enqueue({ n: 1 }))!;
    await waitFor(() => parents.jobs.waiting(parent.id), 'the parent waits for its child');
    const childId = await childOf(parent.id);
    // An operator's cancel inside a transaction that rolls back: the child stays, the parent waits.
    const c = await t.pool.connect();
    try {
      await c.query('BEGIN');
      expect(await children.using(c).jobs.cancel(childId)).toBe(1);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await parents.jobs.waiting(parent.id)).not.toBeNull();
    expect(await released(`$job:children:${childId}`)).toBe(0);
    expect(await children.jobs.cancel(childId)).toBe(1);
    await waitFor(async () => (await count(t.pool, t.schema, 'parents')) === 0, 'parent finished');
    expect(seen).toEqual([{ state: 'cancelled', error: 'cancelled', code: 'AWAITED_JOB_FAILED' }]);
    expect(childRuns).toBe(0);
    expect(parentRuns).toBe(2);
    expect(await children.jobs.cancel(childId)).toBe(0);
    expect(await released(`$job:children:${childId}`)).toBe(1);
  });

  it("a running child cancelled: its worker's late completion is fenced, the parent sees the cancel", async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    const children = await t.arbiter.createQueue('children');
    const seen: Outcome[] = [];
    let started = 0;
    await startWorker(t.arbiter, {
      queues: {
        parents: { handler: parentHandler(seen, (job) => ({ n: job.payload.n })) },
        children: {
          handler: async (_job, { signal }) => {
            started++;
            // Runs until told to stop, then returns anyway: that success must not count.
            await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
            return 'finished after the cancel';
          },
        },
      },
    });
    const parent = (await parents.enqueue({ n: 2 }))!;
    await waitFor(() => started === 1, 'the child runs');
    const childId = await childOf(parent.id);
    expect(await children.jobs.cancel(childId)).toBe(1);
    await waitFor(async () => (await count(t.pool, t.schema, 'parents')) === 0, 'parent finished');
    expect(seen).toEqual([{ state: 'cancelled', error: 'cancelled', code: 'AWAITED_JOB_FAILED' }]);
    expect(await released(`$job:children:${childId}`)).toBe(1);
  });
});

describe('ctx.run: a child whose completion write is fenced off', () => {
  it('reports nothing from that attempt; the parent gets the outcome of the attempt that holds the job', async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    const children = await t.arbiter.createQueue('children');
    const seen: Outcome[] = [];
    let lost = 0;
    const worker = await startWorker(t.arbiter, {
      queues: {
        parents: {
          handler: parentHandler(seen, (job) => ({ n: job.payload.n }), { enqueue: { maxAttempts: 1 } }),
        },
        children: {
          handler: async (job: Job) => {
            // Its final attempt loses the job while it runs: the lease is taken over by another attempt
            // (as a reclaim does), then it fails. Its dead-letter write is fenced off.
            await t.pool.query(
              `UPDATE "${t.schema}".children SET attempts = attempts + 1, max_attempts = max_attempts + 1,
                 leased_until = now() + interval '1 hour', worker_id = 'another' WHERE id = $1`,
              [job.id],
            );
            throw new Error('failed after losing the job');
          },
        },
      },
    });
    worker.on('job:lease-lost', (e) => void (e.queue === 'children' && lost++));
    const parent = (await parents.enqueue({ n: 3 }))!;
    await waitFor(() => lost === 1, 'the child attempt was fenced off');
    const childId = await childOf(parent.id);
    expect(await count(t.pool, t.schema, 'children_dlq')).toBe(0);
    expect(await parents.jobs.waiting(parent.id)).not.toBeNull();
    expect(await released(`$job:children:${childId}`)).toBe(0);
    // The attempt that holds the job now succeeds: that is the outcome the parent gets.
    const held = (await children.jobs.get(childId))!;
    expect(await children.ack(held, { result: 'from the attempt that holds it' })).toBe(1);
    await waitFor(async () => (await count(t.pool, t.schema, 'parents')) === 0, 'parent finished');
    expect(seen).toEqual([{ ok: 'from the attempt that holds it' }]);
    expect(await released(`$job:children:${childId}`)).toBe(1);
  });
});

describe("ctx.run's enqueue", () => {
  it('takes the options of queue.enqueue, with its checks and typed errors, and writes nothing on bad ones', async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    const children = await t.arbiter.createQueue('children');
    const bad = [
      { priority: 'high' },
      { bogus: 1 },
      { meta: 'x' },
      { dedup: { mode: 'ignore' } },
      { result: 7 },
    ];
    const seen: Outcome[] = [];
    await startWorker(t.arbiter, {
      queues: {
        parents: {
          handler: (job: Job<{ n: number }>, ctx) =>
            parentHandler(seen, () => ({ n: 0 }), { enqueue: bad[job.payload.n] })(job, ctx),
        },
        children: { handler: () => 1 },
      },
    });
    const ids: string[] = [];
    for (let n = 0; n < bad.length; n++) ids.push((await parents.enqueue({ n }, { maxAttempts: 1 }))!.id);
    await waitFor(() => seen.length === bad.length, 'every parent ran');
    const expected = await Promise.all(
      bad.map((o) =>
        children.enqueue({ n: 0 }, o as never).then(
          () => null,
          (e: ValidationError) => ({ state: 'invalid', error: e.message, code: e.code }),
        ),
      ),
    );
    expect(expected.every((e) => e !== null)).toBe(true);
    expect(new Set(seen.map((s) => JSON.stringify(s)))).toEqual(
      new Set(expected.map((e) => JSON.stringify(e))),
    );
    expect(await count(t.pool, t.schema, 'children')).toBe(0);
    expect(
      await count(t.pool, t.schema, '_steps', `queue = 'parents' AND job_id IN (${ids.join(',')})`),
    ).toBe(0);
  });

  it('with an idempotency key, parents awaiting the same job each get its result', async () => {
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    await t.arbiter.createQueue('children');
    const seen: Outcome[] = [];
    let childRuns = 0;
    await startWorker(t.arbiter, {
      queues: {
        parents: {
          handler: parentHandler(seen, () => ({ n: 9 }), {
            enqueue: { idempotencyKey: 'one-child', delayMs: 300 },
          }),
        },
        children: { handler: (job: Job<{ n: number }>) => (childRuns++, job.payload.n * 2) },
      },
    });
    await parents.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }, { payload: { n: 3 } }]);
    await waitFor(async () => (await count(t.pool, t.schema, 'parents')) === 0, 'parents finished', 15_000);
    expect(seen).toEqual([{ ok: 18 }, { ok: 18 }, { ok: 18 }]);
    expect(childRuns).toBe(1);
  });
});

describe('ctx.run: cancels racing the children’s own completions', () => {
  it('each parent gets exactly the outcome its child’s record says, once', async () => {
    const N = 60;
    const parents = await t.arbiter.createQueue<{ n: number }>('parents');
    const children = await t.arbiter.createQueue<{ n: number }>('children');
    const seen = new Map<number, Outcome[]>();
    const childIds = new Map<number, string>();
    const running: string[] = [];
    await startWorker(t.arbiter, {
      concurrency: 16,
      queues: {
        parents: {
          handler: async (job: Job<{ n: number }>, ctx) => {
            const mine: Outcome[] = [];
            await parentHandler(mine, (j) => ({ n: j.payload.n }))(job, ctx);
            seen.set(job.payload.n, [...(seen.get(job.payload.n) ?? []), ...mine]);
          },
        },
        children: {
          handler: async (job: Job<{ n: number }>) => {
            childIds.set(job.payload.n, job.id);
            running.push(job.id);
            await new Promise((r) => setTimeout(r, job.payload.n % 7));
            return job.payload.n;
          },
        },
      },
    });
    await parents.enqueueMany(Array.from({ length: N }, (_, n) => ({ payload: { n } })));
    // Every other child is cancelled as soon as it is seen running: the cancel races its ack.
    const cancels: Promise<number>[] = [];
    await waitFor(
      async () => {
        for (const id of running.splice(0)) if (Number(id) % 2 === 0) cancels.push(children.jobs.cancel(id));
        return (await count(t.pool, t.schema, 'parents')) === 0;
      },
      'every parent finished',
      30_000,
    );
    const cancelledByUs = (await Promise.all(cancels)).filter((n) => n === 1).length;
    const { rows } = await t.pool.query<{ id: string; state: string; released: number }>(
      `SELECT tj.job_id::text AS id, tj.state, e.released FROM "${t.schema}"._tracked_jobs tj
         JOIN "${t.schema}"._events e ON e.name = '$job:children:' || tj.job_id
        WHERE tj.queue = 'children' AND tj.job_id = ANY($1::bigint[])`,
      [[...childIds.values()]],
    );
    const record = new Map(rows.map((r) => [r.id, r]));
    let cancelledSeen = 0;
    for (let n = 0; n < N; n++) {
      const got = seen.get(n) ?? [];
      const rec = record.get(childIds.get(n)!);
      expect(got.length, `parent ${n}: ${JSON.stringify(got)}`).toBe(1);
      expect(rec?.released, `child of parent ${n}`).toBe(1);
      if (rec!.state === 'succeeded') expect(got[0]).toEqual({ ok: n });
      else {
        expect(rec!.state).toBe('cancelled');
        expect(got[0]).toMatchObject({ state: 'cancelled' });
        cancelledSeen++;
      }
    }
    expect(cancelledSeen).toBe(cancelledByUs);
  });
});
