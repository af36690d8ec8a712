import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('slots and ordering', () => {
  it('never runs more handlers than the queue and worker concurrency allow', async () => {
    const a = await t.arbiter.createQueue<{ n: number }>('conc_a');
    const b = await t.arbiter.createQueue<{ n: number }>('conc_b');
    let running = 0;
    let maxTotal = 0;
    const perQueue = { conc_a: 0, conc_b: 0 };
    const maxPerQueue = { conc_a: 0, conc_b: 0 };
    // Handlers hold their slots until every slot has been taken once; from then on they run freely.
    let full!: () => void;
    const filled = new Promise<void>((r) => (full = r));
    const handler = (name: 'conc_a' | 'conc_b') => async () => {
      running++;
      perQueue[name]++;
      maxTotal = Math.max(maxTotal, running);
      maxPerQueue[name] = Math.max(maxPerQueue[name], perQueue[name]);
      if (running === 5) full();
      await filled;
      running--;
      perQueue[name]--;
    };
    await startWorker(t.arbiter, {
      concurrency: 5,
      queues: {
        conc_a: { concurrency: 2, handler: handler('conc_a') },
        conc_b: { handler: handler('conc_b') },
      },
    });
    await a.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ payload: { n } })));
    await b.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ payload: { n } })));
    await waitFor(
      async () => (await count(t.pool, t.schema, 'conc_a')) + (await count(t.pool, t.schema, 'conc_b')) === 0,
      'all done',
      15_000,
    );
    expect(maxPerQueue.conc_a).toBe(2);
    expect(maxTotal).toBe(5);
    expect(maxPerQueue.conc_b).toBeGreaterThanOrEqual(3);
  });

  it('a group stays FIFO through a failure: the job behind a retry waits for it', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('fifo');
    const order: string[] = [];
    await startWorker(t.arbiter, {
      concurrency: 4,
      queues: {
        fifo: {
          backoff: { type: 'linear', delayMs: 150 },
          handler: async (job: Job<{ n: number }>) => {
            order.push(`${job.payload.n}#${job.attempts}`);
            if (job.payload.n === 1 && job.attempts === 1) throw new Error('first try fails');
          },
        },
      },
    });
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'g' })));
    await waitFor(async () => (await count(t.pool, t.schema, 'fifo')) === 0, 'group drained');
    expect(order).toEqual(['1#1', '1#2', '2#1', '3#1']);
  });

  it('a worker presumed dead while alive registers again', async () => {
    await t.arbiter.createQueue('evicted');
    const errors: string[] = [];
    const w = await startWorker(t.arbiter, {
      maintenance: false,
      queues: { evicted: { handler: async () => undefined } },
    });
    w.on('error', (e) => errors.push(e.context));
    await t.pool.query(`DELETE FROM "${t.schema}"._workers WHERE id = $1`, [w.id]);
    await waitFor(async () => (await t.arbiter.listWorkers()).some((x) => x.id === w.id), 're-registered');
    expect(errors).toContain('registry:evicted');
  });
});
