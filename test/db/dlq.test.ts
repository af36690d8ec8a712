import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { byId, dlqHelpers } from '../support/dlq-helpers.js';

const t = useTestDb();
const h = dlqHelpers(t);
const REAP_ERROR = 'lease expired on the final attempt (worker lost)';

type P = { n: string };

describe('dlq.move', () => {
  it('moves a held job with every column and the error, and reports 0 the second time', async () => {
    const q = await t.arbiter.createQueue<P>('m_basic');
    const job = await q.enqueue(
      { n: 'a' },
      {
        groupKey: 'g',
        priority: 3,
        maxAttempts: 4,
        dedup: { key: 'd1' },
        idempotencyKey: 'i1',
        meta: { m: 1 },
      },
    );
    const [held] = await q.claim({ leaseMs: 60_000 });
    expect(held!.id).toBe(job!.id);
    expect(await q.dlq.move(held!, 'boom\u0000!')).toBe(1);
    expect(await q.dlq.move(held!, 'again')).toBe(0);
    expect(await h.jobCount(q)).toBe(0);
    const page = await q.dlq.list();
    expect(page.items).toHaveLength(1);
    const dead = page.items[0]!;
    expect(dead).toMatchObject({
      jobId: job!.id,
      queue: 'm_basic',
      payload: { n: 'a' },
      groupKey: 'g',
      priority: 3,
      attempts: 1,
      maxAttempts: 4,
      lastError: 'boom!',
      dedupKey: 'd1',
      idempotencyKey: 'i1',
      parentId: null,
      isRollup: false,
      meta: { m: 1 },
      status: 'dead',
    });
    expect(dead.createdAt.getTime()).toBe(job!.createdAt.getTime());
    expect(dead.failedAt).toBeInstanceOf(Date);
    expect(await q.dlq.get(dead.id)).toEqual(dead);
    expect(await q.dlq.exists(dead.id)).toBe(true);
    expect(await q.dlq.count()).toBe(1);
    // The group row went away with its only job: the group is not blocked by a ghost.
    const g = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".m_basic_groups`);
    expect(g.rows[0].n).toBe(0);
  });

  it('truncates very long errors', async () => {
    const q = await t.arbiter.createQueue('m_long');
    await q.enqueue({});
    const [held] = await q.claim();
    expect(await q.dlq.move(held!, 'x'.repeat(200_000))).toBe(1);
    const [dead] = (await q.dlq.list()).items;
    expect(dead!.lastError!.length).toBe(64 * 1024);
    expect(dead!.lastError!.endsWith('…')).toBe(true);
  });

  it('is fenced: a stale attempt changes nothing, not even a cascade to children', async () => {
    const q = await t.arbiter.createQueue<P>('m_fence');
    await q.enqueue({ n: 'root' });
    const [first] = await q.claim({ leaseMs: 60_000 });
    const child = await q.enqueue({ n: 'child' }, { parentId: first!.id });
    await h.expireLease(q, first!.id);
    const [second] = await q.claim({ limit: 1, leaseMs: 60_000 });
    expect(second).toMatchObject({ id: first!.id, attempts: 2 });
    const before = await h.jobRow(q, first!.id);

    expect(await q.dlq.move(first!, 'stale worker')).toBe(0);
    expect(await q.dlq.moveMany([{ job: first!, error: 'stale worker' }])).toBe(0);
    expect(await h.jobRow(q, first!.id)).toEqual(before);
    expect(await h.jobRow(q, child!.id)).toBeDefined();
    expect(await q.dlq.count()).toBe(0);

    // A job released for retry is no longer held by anyone: fenced off too.
    expect(await q.retry(second!, { delayMs: 60_000, error: 'later' })).toBe(1);
    expect(await q.dlq.move(second!, 'late')).toBe(0);
    expect(await q.dlq.count()).toBe(0);
  });

  it('cascades a parent to its whole subtree and snapshots its stored results', async () => {
    const q = await t.arbiter.createQueue<P>('m_cascade');
    await q.enqueue({ n: 'root' });
    const [root] = await q.claim({ leaseMs: 60_000 });
    const a = await q.enqueue({ n: 'a' }, { parentId: root!.id });
    const b = await q.enqueue({ n: 'b' }, { parentId: root!.id });
    const a1 = await q.enqueue({ n: 'a1' }, { parentId: a!.id });
    const a2 = await q.enqueue({ n: 'a2' }, { parentId: a!.id });
    // b finishes with a result before the root fails.
    const claimed = await q.claim({ limit: 10 });
    expect(await q.ack(byId(claimed, b!.id), { result: { b: 1 } })).toBe(1);
    await t.pool.query(`UPDATE "${t.schema}".m_cascade SET parent_state = '{"99": "older"}' WHERE id = $1`, [
      root!.id,
    ]);

    expect(await q.dlq.move(root!, 'root failed')).toBe(1);
    expect(await h.jobCount(q)).toBe(0);
    const rows = await h.dlqRows(q);
    expect(rows.map((r) => [r.job_id, r.parent_id, r.last_error])).toEqual([
      [root!.id, null, 'root failed'],
      [a!.id, root!.id, `ancestor ${root!.id} was dead-lettered`],
      [a1!.id, a!.id, `ancestor ${root!.id} was dead-lettered`],
      [a2!.id, a!.id, `ancestor ${root!.id} was dead-lettered`],
    ]);
    expect(rows[0]!.parent_state).toEqual({ '99': 'older', [b!.id]: { b: 1 } });
    expect(await q.dlq.count({ parentId: root!.id })).toBe(1);
    expect(await q.dlq.count({ parentId: a!.id })).toBe(2);
  });

  it('wakes the waiting parent once, when its last child is dead-lettered', async () => {
    const q = await t.arbiter.createQueue<P>('m_wake');
    const wakes = await h.trackWakes(q);
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      children: [{ payload: { n: 'c1' } }, { payload: { n: 'c2' } }],
    });
    const kids = await q.claim({ limit: 5 });
    expect(kids).toHaveLength(2);
    expect(await q.dlq.move(kids[0]!, 'c1 failed')).toBe(1);
    expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(true);
    expect(await q.claim()).toEqual([]);
    expect(await q.dlq.move(kids[1]!, 'c2 failed')).toBe(1);
    expect((await h.jobRow(q, tree.job.id))!.suspended).toBe(false);
    expect((await wakes()).get(tree.job.id)).toBe(1);
    const [parent] = await q.claim();
    expect(parent!.id).toBe(tree.job.id);
    expect((await h.dlqRows(q)).map((r) => r.parent_id)).toEqual([tree.job.id, tree.job.id]);
  });

  it('rejects invalid input before touching the database', async () => {
    const q = await t.arbiter.createQueue('m_invalid');
    await expect(q.dlq.move({ id: 1, attempts: 0 }, 'x')).rejects.toBeInstanceOf(ValidationError);
    await expect(q.dlq.move({ id: 'abc', attempts: 1 }, 'x')).rejects.toBeInstanceOf(ValidationError);
    await expect(q.dlq.move({ id: 1, attempts: 1 }, 42 as unknown as string)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.dlq.moveMany([{ job: { id: 1, attempts: 1 } } as never])).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(q.dlq.moveMany({} as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('dlq.moveMany', () => {
  it('moves each held job with its own error, skipping lost ones and duplicates', async () => {
    const q = await t.arbiter.createQueue<P>('mm_basic');
    await q.enqueueMany([{ payload: { n: '1' } }, { payload: { n: '2' } }, { payload: { n: '3' } }]);
    const [j1, j2, j3] = await q.claim({ limit: 3, leaseMs: 60_000 });
    const stale = { id: j3!.id, attempts: j3!.attempts + 1 };
    const moved = await q.dlq.moveMany([
      { job: j1!, error: 'e1' },
      { job: j2!, error: 'e2' },
      { job: j1!, error: 'dup' },
      { job: stale, error: 'e3' },
    ]);
    expect(moved).toBe(2);
    expect((await h.dlqRows(q)).map((r) => [r.job_id, r.last_error])).toEqual([
      [j1!.id, 'e1'],
      [j2!.id, 'e2'],
    ]);
    expect(await h.jobRow(q, j3!.id)).toBeDefined();
    expect(await q.dlq.moveMany([])).toBe(0);
  });

  it('moves siblings and nested items of one tree together and wakes each parent once', async () => {
    const q = await t.arbiter.createQueue<P>('mm_tree');
    const wakes = await h.trackWakes(q);
    const p1 = await q.enqueueTree({
      payload: { n: 'p1' },
      children: [{ payload: { n: 'a' } }, { payload: { n: 'b' } }],
    });
    const p2 = await q.enqueueTree({
      payload: { n: 'p2' },
      children: [{ payload: { n: 'c' } }, { payload: { n: 'd' } }],
    });
    const kids = await q.claim({ limit: 10, leaseMs: 60_000 });
    expect(kids).toHaveLength(4);
    const moved = await q.dlq.moveMany(kids.map((k) => ({ job: k, error: `failed ${k.payload.n}` })));
    expect(moved).toBe(4);
    const w = await wakes();
    expect(w.get(p1.job.id)).toBe(1);
    expect(w.get(p2.job.id)).toBe(1);
    expect(await q.dlq.count({ parentId: p1.job.id })).toBe(2);
  });
});

describe('dlq.reapExhausted', () => {
  it('dead-letters expired final attempts only, with their subtree, and wakes their parent', async () => {
    const q = await t.arbiter.createQueue<P>('reap');
    const wakes = await h.trackWakes(q);
    const last = await q.enqueue({ n: 'last' }, { maxAttempts: 1 });
    const more = await q.enqueue({ n: 'more' }, { maxAttempts: 2 });
    const live = await q.enqueue({ n: 'live' }, { maxAttempts: 1 });
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      children: [{ payload: { n: 'kid' }, options: { maxAttempts: 1 } }],
    });
    const held = await q.claim({ limit: 10, leaseMs: 60_000 });
    expect(held).toHaveLength(4);
    const kid = tree.children[0]!.job;
    const grandkid = await q.enqueue({ n: 'grandkid' }, { parentId: kid.id });
    for (const id of [last!.id, more!.id, kid.id]) await h.expireLease(q, id);

    expect(await q.dlq.reapExhausted()).toBe(2);
    const rows = await h.dlqRows(q);
    expect(rows.map((r) => [r.job_id, r.last_error])).toEqual([
      [last!.id, REAP_ERROR],
      [kid.id, REAP_ERROR],
      [grandkid!.id, `ancestor ${kid.id} was dead-lettered`],
    ]);
    expect(await h.jobRow(q, more!.id)).toBeDefined();
    expect(await h.jobRow(q, live!.id)).toBeDefined();
    expect((await wakes()).get(tree.job.id)).toBe(1);
    expect(await q.dlq.reapExhausted()).toBe(0);
    // The worker that lost the lease cannot write any more.
    expect(await q.ack(byId(held, last!.id))).toBe(0);
    await expect(q.dlq.reapExhausted({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('dlq.retry', () => {
  it('re-inserts with a new id, attempts 0, no error and no dedup key; the dead letter is gone', async () => {
    const q = await t.arbiter.createQueue<P>('r_basic');
    const job = await q.enqueue(
      { n: 'x' },
      { dedup: { key: 'dk' }, idempotencyKey: 'ik', groupKey: 'g', priority: 2 },
    );
    const [held] = await q.claim();
    await q.dlq.move(held!, 'failed');
    const [dead] = (await q.dlq.list()).items;
    const again = await q.dlq.retry(dead!.id);
    expect(again).not.toBeNull();
    expect(again!.id).not.toBe(job!.id);
    expect(again).toMatchObject({
      payload: { n: 'x' },
      attempts: 0,
      lastError: null,
      dedupKey: null,
      idempotencyKey: 'ik',
      groupKey: 'g',
      priority: 2,
      parentId: null,
      status: 'ready',
    });
    expect(await q.dlq.exists(dead!.id)).toBe(false);
    expect(await q.dlq.retry(dead!.id)).toBeNull();
    // No dedup key came back: a new job with the old key is accepted.
    expect(await q.enqueue({ n: 'new' }, { dedup: { key: 'dk' } })).not.toBeNull();
    const claimed = await q.claim({ limit: 5 });
    expect(byId(claimed, again!.id).attempts).toBe(1);
  });

  it('drops the idempotency key when a live job holds it, and a parent that is gone', async () => {
    const q = await t.arbiter.createQueue<P>('r_keys');
    await q.enqueue({ n: 'parent' });
    const [parent] = await q.claim({ leaseMs: 60_000 });
    await q.enqueue({ n: 'child' }, { parentId: parent!.id, idempotencyKey: 'k' });
    const [child] = await q.claim({ leaseMs: 60_000 });
    await q.dlq.move(child!, 'child failed');
    const [deadChild] = (await q.dlq.list()).items;
    expect(deadChild!.parentId).toBe(parent!.id);
    // The key is taken by a new live job meanwhile.
    const taker = await q.enqueue({ n: 'taker' }, { idempotencyKey: 'k' });
    const retried = await q.dlq.retry(deadChild!.id);
    expect(retried).toMatchObject({ idempotencyKey: null, parentId: parent!.id });
    expect(taker!.idempotencyKey).toBe('k');
    // Now dead-letter the retried child again, then drop the parent: a retry keeps no dangling parent.
    const c2 = byId(await q.claim({ limit: 5, leaseMs: 60_000 }), retried!.id);
    expect(await q.dlq.move(c2, 'again')).toBe(1);
    expect(await q.ack(parent!)).toBe(1);
    expect(await h.jobRow(q, parent!.id)).toBeUndefined();
    const dead2 = (await q.dlq.list({ filter: { parentId: parent!.id } })).items[0]!;
    expect(await q.dlq.retry(dead2.id)).toMatchObject({ parentId: null });
  });

  it('keeps the snapshot and re-points dead children, so a retried finalizer still sees every child', async () => {
    const q = await t.arbiter.createQueue<P>('r_rollup');
    const tree = await q.enqueueTree({
      payload: { n: 'p' },
      rollup: true,
      children: [{ payload: { n: 'ok' } }, { payload: { n: 'bad' } }],
    });
    const kids = await q.claim({ limit: 5 });
    const ok = kids.find((k) => k.payload.n === 'ok')!;
    const bad = kids.find((k) => k.payload.n === 'bad')!;
    expect(await q.ack(ok, { result: 'fine' })).toBe(1);
    expect(await q.dlq.move(bad, 'bad failed')).toBe(1);
    const [finalizer] = await q.claim();
    expect(finalizer!.id).toBe(tree.job.id);
    expect(await q.dlq.move(finalizer!, 'finalizer failed')).toBe(1);

    const deadParent = (await q.dlq.list({ filter: { parentId: null } })).items[0]!;
    expect(deadParent.parentState).toEqual({ [ok.id]: 'fine' });
    const retried = await q.dlq.retry(deadParent.id);
    expect(retried).toMatchObject({ isRollup: true, parentState: { [ok.id]: 'fine' }, attempts: 0 });
    expect(await q.results.parentState(retried!.id)).toEqual({ [ok.id]: 'fine' });
    const raw = await q.results.readChildOutcomesRaw(retried!.id);
    expect([...raw.dlqErrors]).toEqual([[bad.id, 'bad failed']]);
    expect(await q.dlq.count({ parentId: retried!.id })).toBe(1);
  });
});
