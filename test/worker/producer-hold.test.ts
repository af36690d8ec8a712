import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

type P = { n: number; held?: boolean };

describe('an application transaction that enqueued and stays open', () => {
  it('holds up none of the work that was committed: the worker drains it while the transaction is open', async () => {
    const q = await t.arbiter.createQueue<P>('hold');
    const items = [];
    for (let n = 0; n < 10; n++)
      for (let g = 0; g < 20; g++) items.push({ payload: { n }, groupKey: `g${g}` });
    for (let n = 0; n < 100; n++) items.push({ payload: { n } });
    await q.enqueueMany(items);

    const app = await t.connect();
    await app.query('BEGIN');
    // Jobs behind committed work in two groups, one in a new group, and an ungrouped one.
    await q.enqueue({ n: 10, held: true }, { groupKey: 'g0', tx: app });
    await q.enqueue({ n: 10, held: true }, { groupKey: 'g1', tx: app });
    await q.enqueue({ n: 0, held: true }, { groupKey: 'new', tx: app });
    await q.enqueue({ n: 100, held: true }, { tx: app });

    const order = new Map<string, number[]>();
    let held = 0;
    await startWorker(t.arbiter, {
      concurrency: 8,
      queues: {
        hold: {
          handler: async (job: Job<P>) => {
            if (job.payload.held) held++;
            const key = job.groupKey ?? '-';
            order.set(key, [...(order.get(key) ?? []), job.payload.n]);
          },
        },
      },
    });
    // Every committed job runs (and is acked) with the application's transaction still open.
    await waitFor(async () => (await count(t.pool, t.schema, 'hold')) === 0, 'the committed jobs', 30_000);
    expect(held).toBe(0);
    await app.query('COMMIT');
    await waitFor(() => held === 4, 'the jobs of the transaction once it commits', 30_000);
    for (let g = 0; g < 20; g++) {
      const expected = Array.from({ length: g < 2 ? 11 : 10 }, (_, n) => n);
      expect(order.get(`g${g}`), `g${g}`).toEqual(expected);
    }
    expect(order.get('new')).toEqual([0]);
  });
});
