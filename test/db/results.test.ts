import { describe, expect, it } from 'vitest';
import { ParentNotFoundError, PayloadError, ValidationError } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { byId, dlqHelpers } from '../support/dlq-helpers.js';

const t = useTestDb();
const h = dlqHelpers(t);

type P = { n: string };

describe('results', () => {
  it('inserts, replaces and reads child results; they go away with the parent', async () => {
    const q = await t.arbiter.createQueue<P>('res_basic');
    const parent = await q.enqueue({ n: 'p' });
    expect(await q.results.insert(parent!.id, 11, { v: 1 })).toBe(1);
    expect(await q.results.insert(parent!.id, '10', [1, 'two'])).toBe(1);
    expect(await q.results.insert(parent!.id, 11n, { v: 2 })).toBe(1);
    const map = await q.results.byParent(parent!.id);
    expect([...map]).toEqual([
      ['10', [1, 'two']],
      ['11', { v: 2 }],
    ]);
    expect((await q.results.byParent('999999')).size).toBe(0);
    const [held] = await q.claim();
    expect(await q.ack(held!)).toBe(1);
    expect((await q.results.byParent(parent!.id)).size).toBe(0);
  });

  it('refuses an unknown parent and values that are not JSON', async () => {
    const q = await t.arbiter.createQueue('res_invalid');
    await expect(q.results.insert('999999', 1, 'x')).rejects.toBeInstanceOf(ParentNotFoundError);
    const parent = await q.enqueue({});
    await expect(q.results.insert(parent!.id, 1, undefined)).rejects.toBeInstanceOf(PayloadError);
    await expect(q.results.insert(parent!.id, 1, { n: NaN })).rejects.toBeInstanceOf(PayloadError);
    await expect(q.results.insert(parent!.id, 0, 'x')).rejects.toBeInstanceOf(ValidationError);
    await expect(q.results.byParent(-1)).rejects.toBeInstanceOf(ValidationError);
  });

  it('persists and reads the parent_state snapshot', async () => {
    const q = await t.arbiter.createQueue('res_state');
    const job = await q.enqueue({});
    expect(await q.results.parentState(job!.id)).toBeNull();
    expect(await q.results.persistParentState(job!.id, { '5': 'five' })).toBe(1);
    expect(await q.results.parentState(job!.id)).toEqual({ '5': 'five' });
    expect(await q.results.persistParentState(job!.id, null)).toBe(1);
    expect(await q.results.parentState(job!.id)).toBeNull();
    expect(await q.results.persistParentState('999999', {})).toBe(0);
    expect(await q.results.parentState('999999')).toBeNull();
  });

  it('reports dead children errors by their queue id', async () => {
    const q = await t.arbiter.createQueue<P>('res_dead');
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      children: [{ payload: { n: 'a' } }, { payload: { n: 'b' } }],
    });
    const kids = await q.claim({ limit: 5 });
    const a = byId(kids, tree.children[0]!.job.id);
    expect(await q.dlq.move(a, 'a broke')).toBe(1);
    expect([...(await q.results.deadChildErrors(tree.job.id))]).toEqual([[a.id, 'a broke']]);
    expect((await q.results.deadChildErrors('999999')).size).toBe(0);
  });
});

describe('rollup flow end to end', () => {
  it('3 children: 2 acked with results, 1 dead-lettered → parent woken once, finalizer sees 2 ok + 1 error', async () => {
    const q = await t.arbiter.createQueue<P>('res_rollup');
    const wakes = await h.trackWakes(q);
    const tree = await q.enqueueTree({
      payload: { n: 'parent' },
      rollup: true,
      children: ['a', 'b', 'c'].map((n) => ({ payload: { n } })),
    });
    const [ida, idb, idc] = tree.children.map((c) => c.job.id) as [string, string, string];
    const kids = await q.claim({ limit: 10, leaseMs: 60_000 });
    expect(kids).toHaveLength(3);
    expect(await q.ack(byId(kids, ida), { result: { sum: 1 } })).toBe(1);
    expect(await q.dlq.move(byId(kids, idc), 'c exploded')).toBe(1);
    expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(true);
    expect((await wakes()).get(tree.job.id)).toBeUndefined();
    expect(await q.ack(byId(kids, idb), { result: { sum: 2 } })).toBe(1);
    expect((await wakes()).get(tree.job.id)).toBe(1);

    const [finalizer] = await q.claim();
    expect(finalizer).toMatchObject({ id: tree.job.id, isRollup: true });
    const raw = await q.results.readChildOutcomesRaw(finalizer!.id);
    expect([...raw.results]).toEqual([
      [ida, { sum: 1 }],
      [idb, { sum: 2 }],
    ]);
    expect([...raw.dlqErrors]).toEqual([[idc, 'c exploded']]);
    expect(raw.snapshot).toBeNull();
    const [dead] = (await q.dlq.list({ filter: { parentId: tree.job.id } })).items;
    expect([...raw.dlqFailures]).toEqual([[dead!.id, 'c exploded']]);
    expect([...(await q.results.childOutcomes(finalizer!.id))]).toEqual([
      [ida, { ok: true, value: { sum: 1 } }],
      [idb, { ok: true, value: { sum: 2 } }],
      [idc, { ok: false, error: 'c exploded' }],
    ]);
    expect(await q.ack(finalizer!)).toBe(1);
    expect(await h.jobCount(q)).toBe(0);
    expect((await wakes()).get(tree.job.id)).toBe(1);
  });

  it('a dead-lettered and retried finalizer sees the same outcomes through its snapshot', async () => {
    const q = await t.arbiter.createQueue<P>('res_rollup_retry');
    const tree = await q.enqueueTree({
      payload: { n: 'parent' },
      rollup: true,
      children: ['a', 'b'].map((n) => ({ payload: { n } })),
    });
    const [ida, idb] = tree.children.map((c) => c.job.id) as [string, string];
    const kids = await q.claim({ limit: 10 });
    expect(await q.ack(byId(kids, ida), { result: 'A' })).toBe(1);
    expect(await q.dlq.move(byId(kids, idb), 'B failed')).toBe(1);
    const [finalizer] = await q.claim();
    const before = await q.results.childOutcomes(finalizer!.id);
    expect(await q.dlq.move(finalizer!, 'finalizer crashed')).toBe(1);
    const dead = (await q.dlq.list({ filter: { parentId: null } })).items[0]!;
    const retried = await q.dlq.retry(dead.id);
    const after = await q.results.readChildOutcomesRaw(retried!.id);
    expect(after.results.size).toBe(0);
    expect(after.snapshot).toEqual({ [ida]: 'A' });
    expect(await q.results.childOutcomes(retried!.id)).toEqual(before);
  });
});
