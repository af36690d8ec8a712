import { afterEach, describe, expect, it } from 'vitest';
import { AwaitedJobFailedError, ValidationError, type Job } from '../../src/index.js';
import type { JobContext } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// ctx.run enqueues exactly as queue.enqueue does.
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
});
