import { describe, expect, it } from 'vitest';
import type { Job, Queue } from '../../src/index.js';
import { useTestDb } from '../support/db.js';

// Retrying a dead-lettered child brings its parent back to waiting for it, whatever the parent was doing:
// still waiting for others, woken for its completion round, or running that round (which is fenced off).
const t = useTestDb();

type P = string;

/** A rollup parent with two children, c1 acked with a result and c2 dead-lettered: the parent wakes. */
async function woken(q: Queue<P>) {
  const tree = await q.enqueueTree({
    payload: 'P',
    rollup: true,
    children: [{ payload: 'c1' }, { payload: 'c2' }],
  });
  const kids = await q.claim({ limit: 10 });
  expect(kids.map((k) => k.payload).sort()).toEqual(['c1', 'c2']);
  const c1 = kids.find((k) => k.payload === 'c1')!;
  const c2 = kids.find((k) => k.payload === 'c2')!;
  expect(await q.ack(c1, { result: 1 })).toBe(1);
  expect(await q.dlq.move(c2, 'boom')).toBe(1);
  expect((await q.jobs.get(tree.job.id))!.status).toBe('ready');
  const dead = (await q.dlq.list()).items.find((d) => d.jobId === c2.id)!;
  return { parentId: tree.job.id, dead };
}

/** Acks every claimable job with `result` until none is left; returns the payloads in claim order. */
async function runAll(q: Queue<P>, result: unknown): Promise<string[]> {
  const seen: string[] = [];
  for (let jobs: Job<P>[]; (jobs = await q.claim({ limit: 10 })).length > 0;) {
    for (const j of jobs) {
      seen.push(j.payload);
      expect(await q.ack(j, { result })).toBe(1);
    }
  }
  return seen;
}

describe('retrying a dead-lettered child', () => {
  it('puts a parent woken for its completion round back to waiting', async () => {
    const q = await t.arbiter.createQueue<P>('rt_woken');
    const { parentId, dead } = await woken(q);
    const back = await q.dlq.retry(dead.id);
    expect(back!.parentId).toBe(parentId);
    expect((await q.jobs.get(parentId))!.status).toBe('waiting');
    // Only the child runs; then the parent's one completion round, which sees both results.
    const [c2] = await q.claim({ limit: 10 });
    expect(c2!.payload).toBe('c2');
    expect(await q.claim({ limit: 10 })).toEqual([]);
    expect(await q.ack(c2!, { result: 2 })).toBe(1);
    const [round] = await q.claim({ limit: 10 });
    expect(round!.id).toBe(parentId);
    const outcomes = await q.results.readChildOutcomesRaw(parentId);
    expect([...outcomes.results.values()].sort()).toEqual([1, 2]);
    expect(outcomes.dlqErrors.size).toBe(0);
    expect(await q.ack(round!)).toBe(1);
    expect(await q.jobs.get(parentId)).toBeNull();
  });

  it('fences the completion round a parent is running: its ack changes nothing, one round follows', async () => {
    const q = await t.arbiter.createQueue<P>('rt_running');
    const { parentId, dead } = await woken(q);
    const [running] = await q.claim({ limit: 10 });
    expect(running!.id).toBe(parentId);
    await q.dlq.retry(dead.id);
    const parent = (await q.jobs.get(parentId))!;
    expect(parent.status).toBe('waiting');
    expect(parent.attempts).toBe(running!.attempts + 1);
    // The round in progress is fenced: ack, retry, dead-letter and lease extension all change nothing.
    expect(await q.ack(running!)).toBe(0);
    expect(await q.retry(running!, { delayMs: 0, error: 'late' })).toBe(0);
    expect(await q.dlq.move(running!, 'late')).toBe(0);
    expect((await q.extendLeases([running!], 30_000)).map((r) => r.status)).toEqual(['stolen']);
    expect((await q.jobs.get(parentId))!.status).toBe('waiting');
    expect(await runAll(q, 2)).toEqual(['c2', 'P']);
    expect(await q.jobs.get(parentId)).toBeNull();
  });

  it('leaves a parent whose run started before the child failed to finish; its ack waits for the child', async () => {
    const q = await t.arbiter.createQueue<P>('rt_dynamic');
    await q.enqueue('P');
    const [parent] = await q.claim({ limit: 10 });
    // The running parent adds a child, which fails for good while the parent still runs.
    await q.enqueue('c', { parentId: parent!.id });
    const [child] = await q.claim({ limit: 10 });
    expect(await q.dlq.move(child!, 'boom')).toBe(1);
    await q.dlq.retry((await q.dlq.list()).items[0]!.id);
    expect((await q.jobs.get(parent!.id))!.status).toBe('in-flight');
    expect(await q.ack(parent!)).toBe(1);
    expect((await q.jobs.get(parent!.id))!.status).toBe('waiting');
    expect(await runAll(q, null)).toEqual(['c', 'P']);
  });

  it('leaves a parent still waiting for other children waiting', async () => {
    const q = await t.arbiter.createQueue<P>('rt_waiting');
    const tree = await q.enqueueTree({ payload: 'P', children: [{ payload: 'c1' }, { payload: 'c2' }] });
    const kids = await q.claim({ limit: 10 });
    const c2 = kids.find((k) => k.payload === 'c2')!;
    expect(await q.dlq.move(c2, 'boom')).toBe(1);
    const dead = (await q.dlq.list()).items[0]!;
    await q.dlq.retry(dead.id);
    const parent = (await q.jobs.get(tree.job.id))!;
    expect(parent).toMatchObject({ status: 'waiting', attempts: 0 });
    expect(await q.ack(kids.find((k) => k.payload === 'c1')!)).toBe(1);
    expect(await runAll(q, null)).toEqual(['c2', 'P']);
  });

  it('retryMany of a dead parent and its dead child: the new parent waits for the new child', async () => {
    const q = await t.arbiter.createQueue<P>('rt_many');
    const tree = await q.enqueueTree({ payload: 'P', children: [{ payload: 'c1' }] });
    const [c1] = await q.claim({ limit: 10 });
    expect(await q.dlq.move(c1!, 'boom')).toBe(1);
    const [parent] = await q.claim({ limit: 10 });
    expect(parent!.id).toBe(tree.job.id);
    expect(await q.dlq.move(parent!, 'gave up')).toBe(1);
    const deadIds = (await q.dlq.list()).items.map((d) => d.id);
    expect(deadIds).toHaveLength(2);
    const retried = await q.dlq.retryMany(deadIds);
    expect(retried.retried).toHaveLength(2);
    expect(await runAll(q, null)).toEqual(['c1', 'P']);
  });
});
