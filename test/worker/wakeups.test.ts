import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { notifyChannel } from '../../src/worker/index.js';
import { useTestDb } from '../support/db.js';
import { count, SLOW_POLL_MS as SLOW_POLL, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

// Polling is slowed (SLOW_POLL_MS), so a job handled within a couple of seconds was woken by NOTIFY (or by
// the listener's own wake-up after a reconnect), not found by a poll.

/**
 * Waits until the worker has run a probe job of `queue`: its claims have found the queue empty since, so
 * from here only a wake-up brings it a job before the next (slow) poll.
 */
async function idle(q: { enqueue(p: { n: number }): Promise<unknown> }, done: number[]) {
  await q.enqueue({ n: -1 });
  await waitFor(() => done.includes(-1), 'the probe job');
  done.splice(done.indexOf(-1), 1);
}

/**
 * Waits until every notification sent before this call has reached `got`: a sentinel NOTIFY on the same
 * channel is delivered after them (notifications arrive in commit order).
 */
async function delivered(got: string[]) {
  const sentinel = `sentinel-${Math.random()}`;
  await t.pool.query('SELECT pg_notify($1, $2)', [notifyChannel(t.schema), sentinel]);
  await waitFor(() => got.includes(sentinel), 'the sentinel notification');
  got.splice(got.indexOf(sentinel), 1);
}

describe('wake-ups', () => {
  it('NOTIFY wakes an idle worker long before the next poll', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('wake');
    const done: number[] = [];
    await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: { wake: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    await idle(q, done);
    await q.enqueue({ n: 1 });
    await waitFor(() => done.length === 1, 'notified job', 4_000);
  });

  it('resuming a paused queue wakes idle workers long before the next poll', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('wake_resume');
    await t.arbiter.pauseQueue('wake_resume');
    const done: number[] = [];
    const witness = await t.arbiter.createQueue<{ n: number }>('wake_resume_witness');
    await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: {
        wake_resume: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) },
        wake_resume_witness: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) },
      },
    });
    // The insert's own wake-up arrives while the queue is paused: the claim it starts finds nothing. A
    // witness job on another queue, notified after it, has run by the time that claim is behind us.
    await q.enqueue({ n: 1 });
    await witness.enqueue({ n: 0 });
    await waitFor(() => done.includes(0), 'the witness job');
    expect(done).toEqual([0]);
    done.length = 0;
    expect(await t.arbiter.resumeQueue('wake_resume')).toBe(true);
    await waitFor(() => done.length === 1, 'job claimed after resume', 4_000);
    expect(await t.arbiter.resumeQueue('no_such_queue')).toBe(false);
  });

  it("a group's next job is claimed as soon as the one before it completes, not at the next poll", async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('wake_group');
    await q.enqueueMany(Array.from({ length: 30 }, (_, n) => ({ payload: { n }, groupKey: 'one' })));
    const done: number[] = [];
    await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: { wake_group: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    // One job of the group at a time: at one per poll this would take 300 s.
    await waitFor(() => done.length === 30, 'the whole group', 8_000);
    expect(done).toEqual(Array.from({ length: 30 }, (_, n) => n));
  });

  it('notifications are coalesced: one per insert statement, folded within a transaction', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('coalesce');
    const listener = await t.connect();
    const got: string[] = [];
    listener.on('notification', (m) => got.push(m.payload ?? ''));
    await listener.query(`LISTEN "${notifyChannel(t.schema)}"`);
    await q.enqueueMany(Array.from({ length: 200 }, (_, n) => ({ payload: { n } })));
    await delivered(got);
    expect(got).toEqual(['coalesce']);
    got.length = 0;
    await t.arbiter.db.transaction(async (tx) => {
      for (let n = 0; n < 20; n++) await q.enqueue({ n }, { tx });
    });
    await delivered(got);
    expect(got).toEqual(['coalesce']);
    // Claims and lease extensions are not transitions to ready: they notify nothing.
    got.length = 0;
    const claimed = await q.claim({ limit: 5 });
    await q.extendLeases(claimed, 10_000);
    await delivered(got);
    expect(got).toEqual([]);
  });

  it('a missing notify trigger is detected and recreated', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('repair');
    await t.pool.query(`DROP TRIGGER repair_notify_ins ON "${t.schema}".repair`);
    const repaired: string[] = [];
    const done: number[] = [];
    const w = await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: { repair: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    w.on('listener:trigger-repaired', (e) => repaired.push(e.queue));
    // Repaired at start; drop it again to see the periodic check repair it too.
    await t.pool.query(`DROP TRIGGER repair_notify_ins ON "${t.schema}".repair`);
    await waitFor(() => repaired.length >= 1, 'periodic repair', 3_000);
    await waitFor(
      async () => (await count(t.pool, 'pg_catalog', 'pg_trigger', `tgname = 'repair_notify_ins'`)) === 1,
      'trigger back',
    );
    await idle(q, done);
    await q.enqueue({ n: 1 });
    await waitFor(() => done.length === 1, 'woken through the repaired trigger', 4_000);
  });

  it('after pg_terminate_backend on the LISTEN connection, it reconnects and wake-ups resume', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('relisten');
    const done: number[] = [];
    const reconnects: number[] = [];
    const w = await startWorker(t.arbiter, {
      pollIntervalMs: SLOW_POLL,
      queues: { relisten: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    w.on('listener:reconnected', (e) => reconnects.push(e.attempt));
    for (let trial = 1; trial <= 5; trial++) {
      const pid = await waitFor(() => w.listenerPid, 'listener connected');
      await t.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      // Enqueued once the worker has seen the connection die (likely before it is back): the wake-up
      // after reconnecting finds it.
      await waitFor(() => w.listenerPid !== pid, 'the listener connection gone', 4_000);
      await q.enqueue({ n: trial * 10 });
      await waitFor(() => done.includes(trial * 10), `job after kill #${trial}`, 4_000);
      // The pid is set once LISTEN has been issued on the new connection: NOTIFY works on it.
      await waitFor(() => w.listenerPid !== null && w.listenerPid !== pid, 'new connection', 4_000);
      await q.enqueue({ n: trial * 10 + 1 });
      await waitFor(() => done.includes(trial * 10 + 1), `notified job after kill #${trial}`, 4_000);
    }
    expect(reconnects.length).toBeGreaterThanOrEqual(5);
  });

  it('with the listener dead and not yet back, polling still covers the gap', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('gap');
    const done: number[] = [];
    const w = await startWorker(t.arbiter, {
      pollIntervalMs: 200,
      listenerCheckIntervalMs: 60_000,
      queues: { gap: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    // Simulate a silently lost subscription: the connection is fine but no notification reaches us.
    await t.pool.query(`DROP TRIGGER gap_notify_ins ON "${t.schema}".gap`);
    await q.enqueue({ n: 1 });
    await waitFor(() => done.length === 1, 'polled job', 4_000);
    expect(w.listenerPid).not.toBeNull();
  });

  it('poll-only mode (PgBouncer) opens no LISTEN connection and still runs jobs, delayed ones included', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('pollonly');
    const done: number[] = [];
    const w = await startWorker(t.arbiter, {
      listen: false,
      pollIntervalMs: 100,
      queues: { pollonly: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    expect(w.listenerPid).toBeNull();
    await q.enqueue({ n: 1 });
    await q.enqueue({ n: 2 }, { delayMs: 300 });
    await waitFor(() => done.length === 2, 'both jobs', 3_000);
    await waitFor(async () => (await count(t.pool, t.schema, 'pollonly')) === 0, 'both acked');
  });
});
