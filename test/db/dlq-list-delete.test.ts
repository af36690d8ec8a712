import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { byId, dlqHelpers } from '../support/dlq-helpers.js';

// queue.dlq reads (list, count, by parent) and deletes; moves and retries are in dlq.test.ts.
const t = useTestDb();
const h = dlqHelpers(t);

type P = { n: string };

describe('dlq listing', () => {
  it('pages newest failure first with an opaque keyset cursor and filters', async () => {
    const q = await t.arbiter.createQueue<P>('l_page');
    await q.enqueueMany(
      Array.from({ length: 7 }, (_, i) => ({ payload: { n: `j${i}` }, groupKey: i < 3 ? `g${i}` : null })),
    );
    // Three separate moves (three failure times) and one batch of four sharing one failure time.
    for (let i = 0; i < 3; i++) {
      const [held] = await q.claim();
      expect(await q.dlq.move(held!, `e${i}`)).toBe(1);
    }
    const rest = await q.claim({ limit: 10 });
    expect(await q.dlq.moveMany(rest.map((j) => ({ job: j, error: 'batch' })))).toBe(4);
    const all = await q.dlq.list({ limit: 1000 });
    expect(all.items).toHaveLength(7);
    expect(all.nextCursor).toBeNull();
    for (let i = 1; i < all.items.length; i++) {
      const [a, b] = [all.items[i - 1]!, all.items[i]!];
      const order = b.failedAt.getTime() - a.failedAt.getTime() || Number(BigInt(b.id) - BigInt(a.id));
      expect(order).toBeLessThan(0);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await q.dlq.list({ limit: 2, cursor });
      seen.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(4);
    expect(seen).toEqual(all.items.map((d) => d.id));

    expect(await q.dlq.count({ groupKey: 'g1' })).toBe(1);
    expect((await q.dlq.list({ filter: { groupKey: null } })).items).toHaveLength(4);
    // Every dead letter is `dead`: the dead-letter filters have no status.
    await expect(q.dlq.count({ status: 'dead' } as never)).rejects.toThrow(/filter\.status: unknown option/);
    expect(await q.dlq.count({ hasError: true })).toBe(7);
    expect(await q.dlq.count({ payloadContains: { n: 'j5' } })).toBe(1);
    expect(await q.dlq.count({ ids: [all.items[0]!.id, all.items[1]!.id] })).toBe(2);
    expect(await q.dlq.count({ failedAfter: new Date(Date.now() + 3_600_000) })).toBe(0);
    expect(await q.dlq.count({ failedBefore: new Date(Date.now() + 3_600_000) })).toBe(7);
    expect(await q.dlq.count({ createdAfter: new Date(Date.now() - 3_600_000) })).toBe(7);

    const first = await q.dlq.list({ limit: 2 });
    const tampered = Buffer.from(
      JSON.stringify(['dlq:failed-desc', '2999-01-01T00:00:00.000000Z', all.items[0]!.id]),
    ).toString('base64url');
    expect((await q.dlq.list({ cursor: tampered })).items).toHaveLength(7);
    for (const bad of [
      'nope',
      first.nextCursor + 'x',
      Buffer.from('["jobs:id-desc","5"]').toString('base64url'),
    ]) {
      await expect(q.dlq.list({ cursor: bad })).rejects.toBeInstanceOf(ValidationError);
    }
    const badTime = Buffer.from(JSON.stringify(['dlq:failed-desc', 'yesterday', '1'])).toString('base64url');
    await expect(q.dlq.list({ cursor: badTime })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.dlq.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.dlq.list({ limit: 1001 })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.dlq.list({ filter: { nope: 1 } as never })).rejects.toBeInstanceOf(ValidationError);
    expect(await q.dlq.get('999999')).toBeNull();
    expect(await q.dlq.exists('999999')).toBe(false);
    await expect(q.dlq.get('0')).rejects.toBeInstanceOf(ValidationError);
  });

  it('lists and counts the dead children of one parent', async () => {
    const q = await t.arbiter.createQueue<P>('l_parent');
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      children: [1, 2, 3].map((i) => ({ payload: { n: `${i}` } })),
    });
    await q.enqueue({ n: 'other' });
    const held = await q.claim({ limit: 10 });
    expect(await q.dlq.moveMany(held.map((j) => ({ job: j, error: 'x' })))).toBe(4);
    expect(await q.dlq.count({ parentId: tree.job.id })).toBe(3);
    const p1 = await q.dlq.list({ filter: { parentId: tree.job.id }, limit: 2 });
    const p2 = await q.dlq.list({ filter: { parentId: tree.job.id }, limit: 2, cursor: p1.nextCursor });
    expect([...p1.items, ...p2.items].map((d) => d.jobId).sort()).toEqual(
      tree.children.map((c) => c.job.id).sort(),
    );
    expect(p2.nextCursor).toBeNull();
    expect(await q.dlq.count({ parentId: '999999' })).toBe(0);
  });
});

describe('dlq.delete / deleteMany', () => {
  it('wakes the waiting parent only when no sibling is left in the queue', async () => {
    const q = await t.arbiter.createQueue<P>('d_wake');
    const wakes = await h.trackWakes(q);
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      children: [1, 2, 3].map((i) => ({ payload: { n: `${i}` } })),
    });
    const kids = await q.claim({ limit: 5 });
    const [c1, c2, c3] = tree.children.map((c) => byId(kids, c.job.id));
    expect(await q.dlq.moveMany([c1!, c2!].map((job) => ({ job, error: 'x' })))).toBe(2);
    const dead = await h.dlqRows(q);
    expect(await q.dlq.delete(dead[0]!.id)).toBe(1);
    expect(await q.dlq.delete(dead[0]!.id)).toBe(0);
    expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(true);
    // The last sibling leaves the queue without waking anyone (as an external cancel might).
    await h.deleteJobRaw(q, c3!.id);
    expect(await q.dlq.delete(dead[1]!.id)).toBe(1);
    expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(false);
    expect((await wakes()).get(tree.job.id)).toBe(1);
  });

  it('deletes in batches, deduplicated, and wakes every parent whose last child it removed', async () => {
    const q = await t.arbiter.createQueue<P>('d_many');
    const wakes = await h.trackWakes(q);
    const trees = [];
    for (let i = 0; i < 3; i++) {
      trees.push(
        await q.enqueueTree({
          payload: { n: `p${i}` },
          children: [{ payload: { n: 'a' } }, { payload: { n: 'b' } }],
        }),
      );
    }
    const kids = await q.claim({ limit: 10 });
    // One child of each parent dead-lettered; the others leave the queue silently.
    const dead = trees.map((tr) => byId(kids, tr.children[0]!.job.id));
    expect(await q.dlq.moveMany(dead.map((job) => ({ job, error: 'x' })))).toBe(3);
    for (const tr of trees) await h.deleteJobRaw(q, tr.children[1]!.job.id);
    const rows = await h.dlqRows(q);
    const ids = rows.map((r) => r.id);
    expect(await q.dlq.deleteMany([ids[2]!, ids[0]!, ids[2]!, ids[1]!, '999999'])).toBe(3);
    expect(await q.dlq.count()).toBe(0);
    const w = await wakes();
    for (const tr of trees) expect(w.get(tr.job.id)).toBe(1);
    expect(await q.dlq.deleteMany([])).toBe(0);
    await expect(q.dlq.deleteMany(['x'] as never)).rejects.toBeInstanceOf(ValidationError);
  });
});
