import { describe, expect, it } from 'vitest';
import type { JobExplanation } from '../../src/client/why.js';
import { useTestDb } from '../support/db.js';

const db = useTestDb();
const HOUR = 3_600_000;

/** Registers a worker serving `queues` whose last heartbeat was `agoMs` ago (database time). */
async function worker(id: string, queues: string[], agoMs = 0): Promise<void> {
  await db.pool.query(
    `INSERT INTO "${db.schema}"._workers (id, queues, hostname, pid, last_heartbeat)
     VALUES ($1, $2, 'box', 1, now() - $3::bigint * interval '1 millisecond')`,
    [id, queues, agoMs],
  );
}
const codes = (e: JobExplanation | null) => e!.reasons.map((r) => r.code);

describe('queue.jobs.why', () => {
  it('names every reason of a job behind its group head, the head first, then the missing worker', async () => {
    const q = await db.arbiter.createQueue('why_nowork');
    const [head, behind] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'acct-1' })));
    const e = (await q.jobs.why(behind!.id))!;
    expect(codes(e)).toEqual(['behind-head', 'no-worker']);
    expect(e.ok).toBe(false);
    expect(e.reasons[0]).toMatchObject({ jobId: head!.id });
    expect(e.reasons[0]!.text).toContain(`Behind job ${head!.id}, the next of group "acct-1"`);
    expect(e.reasons[1]!.text).toContain(`nothing claims job ${head!.id} or this one`);
    expect(e.group).toMatchObject({ groupKey: 'acct-1', nextJobId: head!.id, state: 'ready' });
    expect(e.liveWorkers).toBe(0);
    // The head itself: only the worker is missing.
    expect(codes(await q.jobs.why(head!.id))).toEqual(['no-worker']);

    await worker('w-live', ['why_nowork']);
    const ready = (await q.jobs.why(head!.id))!;
    expect(codes(ready)).toEqual(['ready']);
    expect(ready.ok).toBe(true);
    expect(ready.liveWorkers).toBe(1);
    expect(codes(await q.jobs.why(behind!.id))).toEqual(['behind-head']);
  });

  it('puts a paused queue first and keeps the job’s own state after it', async () => {
    const q = await db.arbiter.createQueue('why_paused');
    const later = (await q.enqueue({ n: 1 }, { delayMs: HOUR }))!;
    await db.arbiter.pauseQueue('why_paused');
    const e = (await q.jobs.why(later.id))!;
    expect(codes(e)).toEqual(['queue-paused', 'delayed', 'no-worker']);
    expect(e.reasons[1]!.until!.getTime()).toBe(later.runAt.getTime());
  });

  it('explains a group held by an in-flight job on a silent worker, and by a retry', async () => {
    const q = await db.arbiter.createQueue('why_group');
    await worker('w-ok', ['why_group']);
    await worker('w-gone', ['why_group'], 60_000);
    const [held, waiting] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'g' })));
    await q.claim({ workerId: 'w-gone', leaseMs: 10 * 60_000 });
    const e = (await q.jobs.why(waiting!.id))!;
    expect(codes(e)).toEqual(['group-in-flight', 'worker-silent']);
    expect(e.reasons.map((r) => r.jobId)).toEqual([held!.id, held!.id]);
    expect(e.reasons[1]!.text).toMatch(/Worker w-gone has sent no heartbeat for \d+ s/);
    const own = (await q.jobs.why(held!.id))!;
    expect(codes(own)).toEqual(['in-flight', 'worker-silent']);
    expect(own.ok).toBe(false);

    const [r1, r2] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'r' })));
    const [claimed] = await q.claim({ workerId: 'w-ok' });
    expect(claimed!.id).toBe(r1!.id);
    await q.retry(claimed!, { delayMs: HOUR, error: 'mail API answered 503' });
    const r = (await q.jobs.why(r2!.id))!;
    expect(codes(r)).toEqual(['group-retry']);
    expect(r.reasons[0]!.text).toContain('mail API answered 503');
    expect(codes(await q.jobs.why(r1!.id))).toEqual(['retry-backoff']);
  });

  it('says in flight, suspended, waiting for children, dead-lettered, or nothing for an unknown id', async () => {
    const q = await db.arbiter.createQueue('why_states');
    await worker('w-s', ['why_states']);
    const held = (await q.enqueue({ n: 0 }, { suspended: true }))!;
    const tree = await q.enqueueTree({
      payload: { p: 1 },
      children: [{ payload: { c: 1 } }, { payload: { c: 2 } }],
    });
    expect(codes(await q.jobs.why(held.id))).toEqual(['suspended']);
    const parent = (await q.jobs.why(tree.job.id))!;
    expect(codes(parent)).toEqual(['waiting-children']);
    expect(parent.reasons[0]!.text).toContain('Waiting for 2 child jobs');

    const q2 = await db.arbiter.createQueue('why_states2');
    await worker('w-s2', ['why_states2']);
    const running = (await q2.enqueue({ n: 1 }))!;
    const [claimed] = await q2.claim({ workerId: 'w-s' });
    expect(claimed!.id).toBe(running.id);
    const inFlight = (await q2.jobs.why(claimed!.id))!;
    expect(codes(inFlight)).toEqual(['in-flight']);
    expect(inFlight.ok).toBe(true);
    expect(inFlight.reasons[0]!.text).toContain('In flight on worker w-s');

    await q2.dlq.move(claimed!, 'boom: upstream rejected it');
    const dead = (await q2.jobs.why(claimed!.id))!;
    expect(dead.job).toBeNull();
    expect(dead.deadLetter).toMatchObject({ jobId: claimed!.id, lastError: 'boom: upstream rejected it' });
    expect(codes(dead)).toEqual(['dead']);
    expect(dead.reasons[0]!.text).toContain('boom: upstream rejected it');
    expect(await q2.jobs.why('999999999')).toBeNull();
    await expect(q2.jobs.why('nope')).rejects.toThrow(/id/);
  });
});
