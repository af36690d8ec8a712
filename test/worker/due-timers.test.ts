// Jobs scheduled for later (delayed, or retrying after a backoff) start when they fall due, not at the
// first poll after. Polling is slowed to 10 s here, and every wait below gives up long before it: a job
// that ran was woken by its due time, never found by a poll.
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { SLOW_POLL_MS as SLOW_POLL, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

const WITHIN = 5_000;

interface Start {
  n: number;
  at: number;
}

/** Starts a slow-polling worker on `queue` whose handler records each start; returns the record. */
async function recordStarts(queue: string): Promise<Start[]> {
  const starts: Start[] = [];
  await startWorker(t.arbiter, {
    pollIntervalMs: SLOW_POLL,
    queues: {
      [queue]: {
        handler: async (job: Job<{ n: number }>) => void starts.push({ n: job.payload.n, at: Date.now() }),
      },
    },
  });
  return starts;
}

describe('due-time wake-ups', () => {
  it('delayed jobs start when due, in due order, however they were enqueued', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('due_delayed');
    const starts = await recordStarts('due_delayed');
    // A probe job run: the worker's claims have found the queue empty since.
    await q.enqueue({ n: 0 });
    await waitFor(() => starts.length === 1, 'the probe job');
    starts.length = 0;
    // The latest first: each later enqueue brings the earliest due time forward.
    const due = new Map<number, number>();
    for (const [n, delayMs] of [
      [3, 1_500],
      [1, 400],
      [2, 900],
    ] as const) {
      const job = (await q.enqueue({ n }, { delayMs }))!;
      due.set(n, job.runAt.getTime());
    }
    // One grouped: its group's ready time is what falls due.
    const grouped = (await q.enqueue({ n: 4 }, { delayMs: 1_200, groupKey: 'g' }))!;
    due.set(4, grouped.runAt.getTime());
    await waitFor(() => starts.length === 4, 'every delayed job', WITHIN);
    // In due order: a job due later never starts while one due earlier still waits, unless that one
    // was due too by then (a wake-up late on a loaded machine claims both at once, in id order).
    const at = new Map(starts.map((s) => [s.n, s.at]));
    for (const [a, dueA] of due)
      for (const [b, dueB] of due)
        if (dueA < dueB && at.get(b)! < at.get(a)!)
          expect(at.get(b)!, `job ${b} started before job ${a}, due earlier`).toBeGreaterThanOrEqual(dueA);
    // Never before its time (the database and this process share the host's clock).
    for (const s of starts) expect(s.at, `job ${s.n}`).toBeGreaterThanOrEqual(due.get(s.n)!);
  });

  it('a delayed job enqueued while the worker is busy elsewhere runs when due', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('due_busy');
    const starts = await recordStarts('due_busy');
    // Enqueued together with work ready now: the claim takes the ready job and still learns the due time.
    await q.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 }, delayMs: 700 }]);
    await waitFor(() => starts.length === 2, 'both jobs', WITHIN);
    expect(starts.map((s) => s.n)).toEqual([1, 2]);
  });

  it('a retry runs when its backoff has passed, not at the next poll', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('due_retry');
    const attempts: { attempt: number; at: number }[] = [];
    const w = await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: {
        due_retry: {
          backoff: { type: 'linear', delayMs: 600, constant: true },
          handler: async (job: Job<{ n: number }>) => {
            attempts.push({ attempt: job.attempts, at: Date.now() });
            if (job.attempts < 3) throw new Error(`attempt ${job.attempts} fails`);
          },
        },
      },
    });
    const retried: number[] = [];
    w.on('job:retried', () => retried.push(Date.now()));
    await q.enqueue({ n: 1 });
    await waitFor(() => attempts.length === 3, 'three attempts', WITHIN);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Each retry waited out its backoff (counted from when its failure was recorded, which is later).
    for (const i of [1, 2]) expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(600);
    expect(retried).toHaveLength(2);
  });

  it('a queue with a batch handler wakes for its delayed jobs too', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('due_batched');
    const batches: number[][] = [];
    const w = await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: {
        due_batched: {
          batchSize: 10,
          batchHandler: async (jobs: Job<{ n: number }>[]) => {
            batches.push(jobs.map((j) => j.payload.n));
          },
        },
      },
    });
    // A probe job run: the worker's claims have found the queue empty since.
    await q.enqueue({ n: 0 });
    await waitFor(() => batches.flat().includes(0), 'the probe job');
    batches.length = 0;
    expect(w.prefetchedCount).toBe(0);
    await q.enqueueMany([
      { payload: { n: 1 }, delayMs: 500 },
      { payload: { n: 2 }, delayMs: 500 },
      { payload: { n: 3 }, delayMs: 1_000 },
    ]);
    await waitFor(() => batches.flat().length === 3, 'the three delayed jobs', WITHIN);
    expect(batches.flat().sort()).toEqual([1, 2, 3]);
  });

  it('a paused queue is not woken by its due times, and runs them once resumed', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('due_paused');
    const witness = await t.arbiter.createQueue<{ n: number }>('due_paused_witness');
    const starts: Start[] = [];
    const record = async (job: Job<{ n: number }>) => void starts.push({ n: job.payload.n, at: Date.now() });
    await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: { due_paused: { handler: record }, due_paused_witness: { handler: record } },
    });
    await t.arbiter.pauseQueue('due_paused');
    await q.enqueue({ n: 1 }, { delayMs: 300 });
    // A job of another queue of the same worker due later: once it has run, the paused job's due time
    // has passed too, and its wake-up found nothing to claim.
    await witness.enqueue({ n: 2 }, { delayMs: 600 });
    await waitFor(() => starts.length > 0, 'the witness job', WITHIN);
    expect(starts.map((s) => s.n)).toEqual([2]);
    starts.length = 0;
    await t.arbiter.resumeQueue('due_paused');
    await waitFor(() => starts.length === 1, 'the job after resume', WITHIN);
  });
});
