import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

type P = { kind: string; n?: number };

describe('keep as processed', () => {
  it('a queue that keeps history moves finished jobs to <queue>_history with finish time and result', async () => {
    const q = await t.arbiter.createQueue<P>('kept');
    await startWorker(t.arbiter, {
      queues: {
        kept: {
          keepProcessed: true,
          handler: async (job: Job<P>, ctx) => {
            if (job.payload.kind === 'remove') return ctx.remove();
            return { doubled: job.payload.n! * 2 };
          },
        },
      },
    });
    const jobs = await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { kind: 'plain', n } })));
    await q.enqueue({ kind: 'remove' });
    await waitFor(async () => (await count(t.pool, t.schema, 'kept')) === 0, 'all finished');
    const { rows } = await t.pool.query(
      `SELECT id::text, attempts, result, finished_at, claimed_at, worker_id FROM "${t.schema}".kept_history ORDER BY id`,
    );
    expect(rows.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    expect(rows.map((r) => r.result)).toEqual([{ doubled: 2 }, { doubled: 4 }, { doubled: 6 }]);
    for (const r of rows) {
      expect(r.attempts).toBe(1);
      expect(r.finished_at.getTime()).toBeGreaterThanOrEqual(r.claimed_at.getTime());
      expect(r.worker_id).toBeTruthy();
    }
  });

  it('ctx.keep() keeps one job on a queue that deletes by default, children included', async () => {
    const q = await t.arbiter.createQueue<P>('keepsome');
    let parentSaw: Map<string, unknown> | undefined;
    await startWorker(t.arbiter, {
      queues: {
        keepsome: {
          handler: async (job: Job<P>, ctx) => {
            if (job.payload.kind === 'parent') {
              parentSaw = new Map(ctx.children);
              return ctx.keep({ total: 3 });
            }
            if (job.payload.kind === 'child') return ctx.keep({ n: job.payload.n });
            return undefined;
          },
        },
      },
    });
    await q.enqueue({ kind: 'plain' });
    const tree = await q.enqueueTree({
      payload: { kind: 'parent' },
      rollup: true,
      children: [{ payload: { kind: 'child', n: 1 } }, { payload: { kind: 'child', n: 2 } }],
    });
    await waitFor(async () => (await count(t.pool, t.schema, 'keepsome')) === 0, 'all finished');
    const { rows } = await t.pool.query(
      `SELECT id::text, parent_id::text, result FROM "${t.schema}".keepsome_history ORDER BY id`,
    );
    const [c1, c2] = tree.children.map((c) => c.job.id);
    expect(rows).toEqual([
      { id: tree.job.id, parent_id: null, result: { total: 3 } },
      { id: c1, parent_id: tree.job.id, result: { n: 1 } },
      { id: c2, parent_id: tree.job.id, result: { n: 2 } },
    ]);
    // The children's results still reached the parent's completion round.
    expect([...parentSaw!.values()]).toEqual([
      { ok: true, value: { n: 1 } },
      { ok: true, value: { n: 2 } },
    ]);
  });
});
