import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { notifyChannel } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

// Concurrent single enqueues are coalesced into shared statements that, under load, skip the insert
// trigger's NOTIFY (it serializes commits) and wake workers from the client after commit instead.
// Whatever the interleaving, every committed job must reach an idle worker without waiting for a poll.
const t = useTestDb({ poolSize: 16 });
afterEach(stopAll);

const NO_POLL = 60_000;

describe('wake-ups of coalesced single enqueues', () => {
  it('8 racing producers: far fewer notifications than jobs, and every job runs long before a poll', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('wc_burst');
    const listener = await t.connect();
    let notifications = 0;
    listener.on('notification', (m) => {
      if (m.payload === 'wc_burst') notifications++;
    });
    await listener.query(`LISTEN "${notifyChannel(t.schema)}"`);
    const done = new Set<number>();
    await startWorker(t.arbiter, {
      pollIntervalMs: NO_POLL,
      concurrency: 8,
      queues: { wc_burst: { handler: async (job: Job<{ n: number }>) => void done.add(job.payload.n) } },
    });
    // A probe job run: the worker's first claim is behind it; from now on only wake-ups bring jobs.
    await q.enqueue({ n: -1 });
    await waitFor(() => done.has(-1), 'the probe job');
    done.delete(-1);
    for (let round = 0; round < 3; round++) {
      let next = round * 400;
      const end = next + 400;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < end) await q.enqueue({ n: next++ });
        }),
      );
      // An idle gap: the last jobs of a burst must not wait for the 60 s poll.
      await waitFor(() => done.size === end, `round ${round}: all ${end} jobs run`, 5_000, 10);
    }
    expect(done.size).toBe(1_200);
    expect(notifications).toBeGreaterThan(0);
    expect(notifications).toBeLessThan(600);
  });

  it('a lone enqueue on an idle queue is notified by its own statement at commit', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('wc_lone');
    const listener = await t.connect();
    const got: string[] = [];
    listener.on('notification', (m) => got.push(m.payload ?? ''));
    await listener.query(`LISTEN "${notifyChannel(t.schema)}"`);
    // Each enqueue waits for its own notification before the next: five lone statements.
    for (let n = 0; n < 5; n++) {
      await q.enqueue({ n });
      await waitFor(() => got.filter((p) => p === 'wc_lone').length === n + 1, `notification ${n + 1}`);
    }
    // No more than one each: a sentinel NOTIFY sent after them arrives after any of theirs.
    await t.pool.query('SELECT pg_notify($1, $2)', [notifyChannel(t.schema), 'sentinel']);
    await waitFor(() => got.includes('sentinel'), 'the sentinel notification');
    expect(got.filter((p) => p === 'wc_lone')).toHaveLength(5);
  });
});
