// A lease extension answered after its job's run ended (the run's ack or retry committed meanwhile) finds
// the lease gone. That is the run's own outcome, not a lease lost: no job:lease-lost, no abort.
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { sleep, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('lease extensions racing outcomes', () => {
  it('runs ending while an extension is on its way never report their lease lost', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('lease_race');
    const total = 400;
    await q.enqueueMany(Array.from({ length: total }, (_, n) => ({ payload: { n } })));
    const lost: string[] = [];
    const finished = new Set<number>();
    const w = await startWorker(t.arbiter, {
      concurrency: 16,
      queues: {
        lease_race: {
          // The shortest lease: extensions every ~33 ms, each covering every running job.
          leaseMs: 100,
          backoff: { type: 'linear', delayMs: 1 },
          handler: async (job: Job<{ n: number }>) => {
            await sleep(Math.random() * 40);
            // The first attempt fails: its retry is written at once, not batched like an ack.
            if (job.attempts === 1) throw new Error('first attempt fails');
            finished.add(job.payload.n);
          },
        },
      },
    });
    w.on('job:lease-lost', (e) => lost.push(`${e.job.id}:${e.status}`));
    await waitFor(() => finished.size === total, 'every job done on its second attempt', 60_000);
    expect(lost).toEqual([]);
  });
});
