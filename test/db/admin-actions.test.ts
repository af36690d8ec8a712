import { describe, expect, it } from 'vitest';
import { ValidationError, type Job, type Queue } from '../../src/index.js';
import { shiftJob, useTestDb } from '../support/db.js';

const t = useTestDb();

type P = { n: number };

function ids(jobs: readonly Job<unknown>[]): string[] {
  return jobs.map((j) => j.id);
}

async function liveIds(q: Queue<P>): Promise<string[]> {
  const { rows } = await t.pool.query<{ id: string }>(`SELECT id FROM "${t.schema}"."${q.name}" ORDER BY id`);
  return rows.map((r) => r.id);
}

/** parent -> [a -> [a1, a2], b] */
async function makeTree(q: Queue<P>) {
  const tree = await q.enqueueTree({
    payload: { n: 0 },
    children: [
      { payload: { n: 1 }, children: [{ payload: { n: 11 } }, { payload: { n: 12 } }] },
      { payload: { n: 2 } },
    ],
  });
  const a = tree.children[0]!;
  return {
    root: tree.job,
    a: a.job,
    a1: a.children[0]!.job,
    a2: a.children[1]!.job,
    b: tree.children[1]!.job,
  };
}

describe('cancel', () => {
  it('deletes a job, returns 0 when gone, refuses parents, and rejects bad ids', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_one');
    const job = (await q.enqueue({ n: 1 }))!;
    const tree = await makeTree(q);
    expect(await q.jobs.cancel(job.id)).toBe(1);
    expect(await q.jobs.get(job.id)).toBeNull();
    expect(await q.jobs.cancel(job.id)).toBe(0);
    expect(await q.jobs.cancel(tree.root.id)).toBe(0);
    expect(await q.jobs.cancel(tree.a.id)).toBe(0);
    const before = await liveIds(q);
    for (const bad of ['x', 0, -5, 2.5, null, undefined]) {
      await expect(q.jobs.cancel(bad as never)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(q.jobs.cancelMany([tree.b.id, 'nope'])).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.cancelMany('1' as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.cancelCascade(-1)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.cancelTree('')).rejects.toBeInstanceOf(ValidationError);
    expect(await liveIds(q)).toEqual(before);
  });

  it('may delete a job in flight; the worker is then fenced off', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_leased');
    await q.enqueue({ n: 1 }, { groupKey: 'g' });
    const next = (await q.enqueue({ n: 2 }, { groupKey: 'g' }))!;
    const [claimed] = await q.claim();
    expect(await q.claim()).toEqual([]);
    expect(await q.jobs.cancel(claimed!.id)).toBe(1);
    expect(await q.ack(claimed!)).toBe(0);
    expect(await q.retry(claimed!, { error: 'late' })).toBe(0);
    expect(ids(await q.claim())).toEqual([next.id]);
  });

  it('wakes the parent when its last child is cancelled', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_wake');
    const tree = await q.enqueueTree({
      payload: { n: 0 },
      children: [{ payload: { n: 1 } }, { payload: { n: 2 } }],
    });
    const [c1, c2] = tree.children.map((c) => c.job);
    expect(await q.jobs.cancel(c1!.id)).toBe(1);
    expect((await q.jobs.get(tree.job.id))!.status).toBe('waiting');
    expect(await q.jobs.cancel(c2!.id)).toBe(1);
    const parent = (await q.jobs.get(tree.job.id))!;
    expect(parent).toMatchObject({ suspended: false, status: 'ready' });
    expect(ids(await q.claim())).toEqual([tree.job.id]);
  });

  it('cancelMany deletes childless jobs in one transaction and wakes emptied parents', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_many');
    const solo = (await q.enqueue({ n: 1 }, { groupKey: 'z' }))!;
    const tree = await makeTree(q);
    // a (a parent) is listed with both its children: they go, a is refused but woken.
    const n = await q.jobs.cancelMany([tree.a2.id, solo.id, tree.a.id, 999_999, tree.a1.id, solo.id]);
    expect(n).toBe(3);
    expect(await liveIds(q)).toEqual([tree.root.id, tree.a.id, tree.b.id]);
    expect((await q.jobs.get(tree.a.id))!.status).toBe('ready');
    expect((await q.jobs.get(tree.root.id))!.status).toBe('waiting');
    expect(await q.jobs.cancelMany([tree.a.id, tree.b.id])).toBe(2);
    expect((await q.jobs.get(tree.root.id))!.status).toBe('ready');
    expect(await q.jobs.cancelMany([])).toBe(0);
    expect(await q.jobs.stats()).toMatchObject({ total: 1, groups: 0 });
  });

  it('concurrent cancelMany batches over shared groups and parents neither deadlock nor double count', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_race');
    for (let round = 0; round < 5; round++) {
      const jobs = await q.enqueueMany(
        Array.from({ length: 60 }, (_, n) => ({ payload: { n }, groupKey: `g${n % 6}` })),
      );
      const trees = await Promise.all(
        Array.from({ length: 4 }, () =>
          q.enqueueTree({ payload: { n: -1 }, children: [{ payload: { n: 1 } }, { payload: { n: 2 } }] }),
        ),
      );
      const kids = trees.flatMap((tr) => tr.children.map((c) => c.job.id));
      const all = [...ids(jobs), ...kids];
      const shuffled = () => [...all].sort(() => Math.random() - 0.5);
      const counts = await Promise.all([0, 1, 2, 3].map(() => q.jobs.cancelMany(shuffled())));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(all.length);
      expect(await liveIds(q)).toEqual(trees.map((tr) => tr.job.id).sort((a, b) => Number(a) - Number(b)));
      for (const tr of trees) expect((await q.jobs.get(tr.job.id))!.status).toBe('ready');
      expect(await q.jobs.cancelMany(trees.map((tr) => tr.job.id))).toBe(4);
    }
  });
});

describe('cancelCascade and cancelTree', () => {
  it('cascade deletes a subtree and wakes the parent once no sibling remains', async () => {
    const q = await t.arbiter.createQueue<P>('cascade');
    const tree = await makeTree(q);
    expect(await q.jobs.cancelCascade(tree.a.id)).toBe(3);
    expect(await liveIds(q)).toEqual([tree.root.id, tree.b.id]);
    expect((await q.jobs.get(tree.root.id))!.status).toBe('waiting');
    expect(await q.jobs.cancelCascade(tree.b.id)).toBe(1);
    expect((await q.jobs.get(tree.root.id))!.status).toBe('ready');
    expect(await q.jobs.cancelCascade(tree.b.id)).toBe(0);
    const other = await makeTree(q);
    const [leased] = await q.claim({ limit: 10 });
    expect(leased).toBeDefined();
    expect(await q.jobs.cancelCascade(other.root.id)).toBe(5);
    expect(await liveIds(q)).toEqual([tree.root.id]);
  });

  it('cancelTree deletes the whole tree from any node and leaves other trees alone', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_tree');
    const keep = await makeTree(q);
    const doomed = await makeTree(q);
    expect(await q.jobs.cancelTree(doomed.a2.id)).toBe(5);
    const kept = [keep.root.id, keep.a.id, keep.a1.id, keep.a2.id, keep.b.id];
    expect(await liveIds(q)).toEqual(kept.sort((x, y) => Number(BigInt(x) - BigInt(y))));
    expect(await q.jobs.cancelTree(keep.root.id)).toBe(5);
    expect(await q.jobs.cancelTree(keep.root.id)).toBe(0);
    const solo = (await q.enqueue({ n: 1 }))!;
    expect(await q.jobs.cancelTree(solo.id)).toBe(1);
  });
});

describe('cancelCascade over a whole group', () => {
  // One DELETE removing a group's head together with all its other rows: the per-row group triggers run
  // after every row is gone, so the head recompute must tolerate an empty group.
  it('deletes a tree whose children form a whole group', async () => {
    const q = await t.arbiter.createQueue<P>('cascade_group');
    const tree = await q.enqueueTree({
      payload: { n: 0 },
      children: [1, 2, 3].map((n) => ({ payload: { n }, options: { groupKey: 'tg' } })),
    });
    expect(await q.jobs.cancelCascade(tree.job.id)).toBe(4);
    expect(await liveIds(q)).toEqual([]);
    expect(await q.jobs.stats()).toMatchObject({ total: 0, groups: 0 });
  });

  it('cancelMany removes a whole group, head included', async () => {
    const q = await t.arbiter.createQueue<P>('cancel_many_group');
    const jobs = await q.enqueueMany([3, 1, 2].map((n) => ({ payload: { n }, groupKey: 'g', priority: n })));
    const other = (await q.enqueue({ n: 9 }, { groupKey: 'h' }))!;
    expect(await q.jobs.cancelMany(ids(jobs))).toBe(3);
    expect(await liveIds(q)).toEqual([other.id]);
    expect(await q.jobs.stats()).toMatchObject({ total: 1, groups: 1 });
    expect(ids(await q.claim())).toEqual([other.id]);
  });
});

describe('promote, suspend, resume', () => {
  it('promote makes delayed and retrying jobs runnable, and refuses the rest', async () => {
    const q = await t.arbiter.createQueue<P>('promote');
    const delayed = (await q.enqueue({ n: 1 }, { delayMs: 3_600_000 }))!;
    expect(await q.claim()).toEqual([]);
    expect(await q.jobs.promote(delayed.id)).toBe(1);
    expect((await q.jobs.get(delayed.id))!.status).toBe('ready');
    expect(await q.jobs.promote(delayed.id)).toBe(0);
    const [running] = await q.claim();
    expect(running!.id).toBe(delayed.id);
    expect(await q.jobs.promote(running!.id)).toBe(0);
    expect((await q.jobs.get(running!.id))!.leasedUntil).toEqual(running!.leasedUntil);
    const held = (await q.enqueue({ n: 2 }, { delayMs: 3_600_000, suspended: true }))!;
    expect(await q.jobs.promote(held.id)).toBe(0);
    expect(await q.jobs.promote(123_456_789)).toBe(0);
    await expect(q.jobs.promote('0')).rejects.toBeInstanceOf(ValidationError);
  });

  it('promoting a failed group head lifts its backoff and keeps FIFO', async () => {
    const q = await t.arbiter.createQueue<P>('promote_group');
    const first = (await q.enqueue({ n: 1 }, { groupKey: 'g' }))!;
    const second = (await q.enqueue({ n: 2 }, { groupKey: 'g' }))!;
    const [c] = await q.claim();
    expect(c!.id).toBe(first.id);
    await q.retry(c!, { delayMs: 3_600_000, error: 'boom' });
    expect((await q.jobs.get(first.id))!.status).toBe('retrying');
    expect(await q.claim()).toEqual([]);
    expect(await q.jobs.promote(first.id)).toBe(1);
    expect(ids(await q.claim({ limit: 5 }))).toEqual([first.id]);
    expect((await q.jobs.get(second.id))!.status).toBe('ready');
  });

  it('suspend and resume toggle claimability, refusing in-flight jobs and waiting parents', async () => {
    const q = await t.arbiter.createQueue<P>('suspend');
    const job = (await q.enqueue({ n: 1 }))!;
    expect(await q.jobs.suspend(job.id)).toBe(1);
    expect(await q.jobs.suspend(job.id)).toBe(0);
    expect((await q.jobs.get(job.id))!.status).toBe('suspended');
    expect(await q.claim()).toEqual([]);
    expect(await q.jobs.resume(job.id)).toBe(1);
    expect(await q.jobs.resume(job.id)).toBe(0);
    const [running] = await q.claim();
    expect(running!.id).toBe(job.id);
    expect(await q.jobs.suspend(job.id)).toBe(0);
    await shiftJob(
      t.pool,
      t.schema,
      'suspend',
      job.id,
      `leased_until = now() - interval '1 second', run_at = now() - interval '1 second'`,
    );
    expect(await q.jobs.suspend(job.id)).toBe(1);
    expect(await q.claim()).toEqual([]);
    const tree = await q.enqueueTree({ payload: { n: 0 }, children: [{ payload: { n: 1 } }] });
    expect(await q.jobs.resume(tree.job.id)).toBe(0);
    expect((await q.jobs.get(tree.job.id))!.status).toBe('waiting');
    await expect(q.jobs.suspend(1.5)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.resume('abc')).rejects.toBeInstanceOf(ValidationError);
  });

  it('pauseChildren skips in-flight children; resumeChildren skips children waiting on their own', async () => {
    const q = await t.arbiter.createQueue<P>('pause_children');
    const tree = await q.enqueueTree({
      payload: { n: 0 },
      children: [
        { payload: { n: 1 } },
        { payload: { n: 2 } },
        { payload: { n: 3 }, children: [{ payload: { n: 31 } }] },
      ],
    });
    const [c1, c2, mid] = tree.children.map((c) => c.job);
    const leaf = tree.children[2]!.children[0]!.job;
    const [leased] = await q.claim();
    expect(leased!.id).toBe(c1!.id);
    expect(await q.jobs.pauseChildren(tree.job.id)).toBe(1);
    expect((await q.jobs.get(c2!.id))!.status).toBe('suspended');
    expect((await q.jobs.get(c1!.id))!.status).toBe('in-flight');
    expect(ids(await q.claim({ limit: 10 }))).toEqual([leaf.id]);
    expect(await q.jobs.resumeChildren(tree.job.id)).toBe(1);
    expect((await q.jobs.get(mid!.id))!.status).toBe('waiting');
    expect(ids(await q.claim({ limit: 10 }))).toEqual([c2!.id]);
    expect(await q.jobs.pauseChildren(999_999)).toBe(0);
    await expect(q.jobs.pauseChildren(null as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(q.jobs.resumeChildren({} as never)).rejects.toBeInstanceOf(ValidationError);
  });
});
