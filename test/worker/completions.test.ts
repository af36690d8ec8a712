// When a busy queue's burst ends, its last acks are written at once rather than after the long window
// plain acks wait under load: nothing left to run means nothing left to share their statement.
import { afterEach, describe, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { sleep, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

describe('completion windows', () => {
  it("a burst's last acks leave as soon as the worker has nothing left to run", async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('burst_end');
    const total = 800;
    await q.enqueueMany(Array.from({ length: total }, (_, n) => ({ payload: { n } })));
    let handled = 0;
    await startWorker(t.arbiter, {
      concurrency: 16,
      // Acks wait 1.5 s, and 6 s once a flush was large: the burst (about 3 s) makes it so.
      completionFlushMs: 1_500,
      queues: {
        burst_end: {
          handler: async (_job: Job<{ n: number }>) => {
            await sleep(60);
            handled++;
          },
        },
      },
    });
    await waitFor(() => handled === total, 'every handler call', 30_000);
    // Without the idle flush, the last acks would sit until their 6 s window ran out.
    await waitFor(async () => (await q.jobs.count()) === 0, 'every ack written', 2_000);
  });
});
