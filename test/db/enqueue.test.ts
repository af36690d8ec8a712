import { describe, expect, it } from 'vitest';
import {
  type EnqueueItem,
  ParentNotFoundError,
  QueueNotFoundError,
  type InsertedTree,
  type TreeNode,
} from '../../src/index.js';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

async function count(table: string): Promise<number> {
  const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}"."${table}"`);
  return rows[0].n;
}

describe('enqueue', () => {
  it('inserts a job with defaults and returns database fields', async () => {
    const q = await t.arbiter.createQueue<{ to: string }>('enq_basic');
    const job = await q.enqueue({ to: 'a@example.com' });
    expect(job).not.toBeNull();
    expect(job!.id).toMatch(/^\d+$/);
    expect(job!.payload).toEqual({ to: 'a@example.com' });
    expect(job!).toMatchObject({
      priority: 0,
      attempts: 0,
      maxAttempts: 25,
      groupKey: null,
      status: 'ready',
    });
    expect(job!.createdAt).toBeInstanceOf(Date);
  });

  it('honours delay, runAt, priority, group, maxAttempts and meta', async () => {
    const q = await t.arbiter.createQueue('enq_opts');
    const later = new Date(Date.now() + 3_600_000);
    const a = await q.enqueue(
      { n: 1 },
      { delayMs: 60_000, priority: -5, groupKey: 'g', maxAttempts: 3, meta: { trace: 'x' } },
    );
    const b = await q.enqueue({ n: 2 }, { runAt: later });
    expect(a!.status).toBe('scheduled');
    expect(a!.runAt.getTime() - a!.createdAt.getTime()).toBeGreaterThanOrEqual(59_000);
    expect(a).toMatchObject({ priority: -5, groupKey: 'g', maxAttempts: 3, meta: { trace: 'x' } });
    expect(b!.runAt.toISOString()).toBe(later.toISOString());
    expect(await q.claim({ limit: 10 })).toEqual([]);
  });

  it('ignore-duplicate skips and returns null', async () => {
    const q = await t.arbiter.createQueue('enq_ignore');
    const first = await q.enqueue({ v: 1 }, { dedup: { key: 'k' } });
    const second = await q.enqueue({ v: 2 }, { dedup: { key: 'k', mode: 'ignore' } });
    expect(first).not.toBeNull();
    expect(second).toBeNull();
    expect(await count('enq_ignore')).toBe(1);
    const [job] = await q.claim();
    expect(job!.payload).toEqual({ v: 1 });
  });

  it('replace-duplicate overwrites a pending job in place', async () => {
    const q = await t.arbiter.createQueue('enq_replace');
    const first = await q.enqueue({ v: 1 }, { dedup: { key: 'k', mode: 'replace' }, priority: 3 });
    const second = await q.enqueue({ v: 2 }, { dedup: { key: 'k', mode: 'replace' }, priority: 1 });
    expect(second!.id).toBe(first!.id);
    expect(second).toMatchObject({ payload: { v: 2 }, priority: 1 });
    expect(await count('enq_replace')).toBe(1);
  });

  it('replace-duplicate refuses a job in flight on a run that has not failed', async () => {
    const q = await t.arbiter.createQueue('enq_replace_inflight');
    await q.enqueue({ v: 1 }, { dedup: { key: 'k', mode: 'replace' } });
    const [held] = await q.claim({ leaseMs: 60_000 });
    const replaced = await q.enqueue({ v: 2 }, { dedup: { key: 'k', mode: 'replace' } });
    expect(replaced).toBeNull();
    expect((await q.jobs.get(held!.id))!.payload).toEqual({ v: 1 });
    expect(await q.ack(held!)).toBe(1);
  });

  it('replace-duplicate replaces a failed job in flight but keeps its lease and fences the old worker', async () => {
    const q = await t.arbiter.createQueue('enq_replace_failed');
    await q.enqueue({ v: 1 }, { dedup: { key: 'k', mode: 'replace' } });
    const [first] = await q.claim({ leaseMs: 60_000 });
    expect(await q.retry(first!, { error: 'boom' })).toBe(1);
    await t.pool.query(`UPDATE "${t.schema}".enq_replace_failed SET run_at = now() - interval '1 second'`);
    const [second] = await q.claim({ leaseMs: 60_000 });
    expect(second!.attempts).toBe(2);
    const replaced = await q.enqueue({ v: 2 }, { dedup: { key: 'k', mode: 'replace' } });
    expect(replaced).not.toBeNull();
    expect(replaced!.payload).toEqual({ v: 2 });
    expect(replaced!.lastError).toBeNull();
    // The lease is kept: nobody else can claim the replacement before it expires.
    expect(await q.claim()).toEqual([]);
    // The old worker is fenced off: its ack changes nothing.
    expect(await q.ack(second!)).toBe(0);
    expect(await count('enq_replace_failed')).toBe(1);
    expect(replaced!.maxAttempts - replaced!.attempts).toBe(25);
  });

  it('idempotency key returns the live job instead of inserting', async () => {
    const q = await t.arbiter.createQueue('enq_idem');
    const a = await q.enqueue({ v: 1 }, { idempotencyKey: 'order-1' });
    const b = await q.enqueue({ v: 2 }, { idempotencyKey: 'order-1' });
    expect(b!.id).toBe(a!.id);
    expect(b!.payload).toEqual({ v: 1 });
    expect(await count('enq_idem')).toBe(1);
    const [held] = await q.claim();
    await q.ack(held!);
    const c = await q.enqueue({ v: 3 }, { idempotencyKey: 'order-1' });
    expect(c!.id).not.toBe(a!.id);
  });

  it('validates the parent and throws ParentNotFoundError for a missing one', async () => {
    const q = await t.arbiter.createQueue('enq_parent');
    const parent = await q.enqueue({ p: true });
    const child = await q.enqueue({ c: true }, { parentId: parent!.id });
    expect(child!.parentId).toBe(parent!.id);
    await expect(q.enqueue({ c: 2 }, { parentId: '999999999' })).rejects.toBeInstanceOf(ParentNotFoundError);
    expect(await count('enq_parent')).toBe(2);
  });

  it('joins the caller transaction: rollback leaves nothing, commit keeps the job', async () => {
    const q = await t.arbiter.createQueue('enq_tx');
    const client = await t.connect();
    await client.query('BEGIN');
    await q.enqueue({ v: 1 }, { tx: client });
    await q.using(client).enqueueMany([{ payload: { v: 2 } }]);
    await client.query('ROLLBACK');
    expect(await count('enq_tx')).toBe(0);
    await client.query('BEGIN');
    await q.enqueue({ v: 3 }, { tx: client });
    expect(await count('enq_tx')).toBe(0);
    await client.query('COMMIT');
    expect(await count('enq_tx')).toBe(1);
  });

  it('throws QueueNotFoundError for a queue never created', async () => {
    const q = t.arbiter.queue('never_created');
    await expect(q.enqueue({})).rejects.toBeInstanceOf(QueueNotFoundError);
    await expect(q.claim()).rejects.toBeInstanceOf(QueueNotFoundError);
  });
});

describe('concurrent enqueues', () => {
  it('each caller gets its own job exactly as stored, whichever statement carried it', async () => {
    const q = await t.arbiter.createQueue<{ n: number; s?: string }>('enq_concurrent');
    const runAt = new Date(Date.now() + 3_600_000);
    // Rounds of 16 concurrent calls: they leave together in multi-row statements.
    for (let round = 0; round < 5; round++) {
      const calls = Array.from({ length: 16 }, (_, i) => {
        const n = round * 100 + i;
        return q.enqueue(i % 4 === 0 ? { n, s: '{"z":1,"a":[2]}' } : { n }, {
          ...(i % 3 === 0 ? { groupKey: `g${i % 2}` } : {}),
          ...(i % 5 === 0 ? { priority: -i } : {}),
          ...(i % 7 === 0 ? { delayMs: 60_000 } : i === 5 ? { runAt } : {}),
          ...(i % 2 ? { maxAttempts: i } : {}),
          ...(i === 3 ? { meta: { zeta: 1, alpha: [true] } } : {}),
          ...(i === 9 ? { suspended: true } : {}),
        });
      });
      const jobs = await Promise.all(calls);
      expect(new Set(jobs.map((j) => j!.id)).size).toBe(16);
      for (const [i, job] of jobs.entries()) {
        expect(job!.payload.n).toBe(round * 100 + i);
        expect(job).toEqual(await q.jobs.get(job!.id));
      }
    }
  });
});

describe('enqueueMany', () => {
  it('inserts in one call and returns rows in caller order within groups', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('many_basic');
    const jobs = await q.enqueueMany(
      Array.from({ length: 50 }, (_, i) => ({ payload: { i }, groupKey: i % 2 ? 'odd' : 'even' })),
    );
    expect(jobs).toHaveLength(50);
    for (const g of ['odd', 'even']) {
      const inGroup = jobs.filter((j) => j.groupKey === g);
      const byId = [...inGroup].sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
      expect(byId.map((j) => j.payload.i)).toEqual(inGroup.map((j) => j.payload.i).sort((a, b) => a - b));
    }
    expect(await q.enqueueManyCount([{ payload: { i: 100 } }, { payload: { i: 101 } }])).toBe(2);
    expect(await count('many_basic')).toBe(52);
  });

  it('writes each row its own options, whichever columns vary across the batch', async () => {
    const q = await t.arbiter.createQueue<{ i: number; s?: string }>('many_columns');
    const runAt = new Date(Date.now() + 7_200_000);
    // Every option set on some rows and not others, and payloads that are not all alike in shape.
    const items: EnqueueItem<{ i: number; s?: string }>[] = Array.from({ length: 12 }, (_, i) => ({
      payload: i % 3 === 0 ? { i, s: 'q"uo\\te,[x]' } : { i },
      ...(i % 2 ? { groupKey: `g${i % 4}` } : {}),
      ...(i % 3 ? { priority: i - 6 } : {}),
      ...(i === 5 ? { runAt } : i % 4 === 1 ? { delayMs: 60_000 } : {}),
      ...(i % 5 ? { maxAttempts: i + 1 } : {}),
      ...(i === 7 ? { dedup: { key: 'k7' } } : {}),
      ...(i === 8 ? { idempotencyKey: 'i8' } : {}),
      ...(i % 2 === 0 ? { suspended: true } : {}),
      ...(i === 3 ? { meta: { note: 'three' } } : {}),
    }));
    const jobs = await q.enqueueMany(items);
    expect(jobs).toHaveLength(items.length);
    const { rows } = await t.pool.query(
      `SELECT payload, group_key, priority, run_at, max_attempts, dedup_key, idempotency_key, suspended, meta,
              extract(epoch FROM run_at - created_at) AS delay_s
         FROM "${t.schema}".many_columns`,
    );
    expect(rows).toHaveLength(items.length);
    for (const item of items) {
      const row = rows.find((r) => r.payload.i === item.payload.i)!;
      expect(row.payload).toEqual(item.payload);
      expect(row.group_key).toBe(item.groupKey ?? null);
      expect(row.priority).toBe(item.priority ?? 0);
      expect(row.max_attempts).toBe(item.maxAttempts ?? 25);
      expect(row.dedup_key).toBe(item.dedup?.key ?? null);
      expect(row.idempotency_key).toBe(item.idempotencyKey ?? null);
      expect(row.suspended).toBe(item.suspended ?? false);
      expect(row.meta).toEqual(item.meta ?? null);
      if (item.runAt) expect(row.run_at.toISOString()).toBe(runAt.toISOString());
      else if (item.delayMs) expect(Number(row.delay_s)).toBeCloseTo(60, 0);
      // Due at once. A grouped row's run_at is taken under its group's insert lock (so it never falls
      // before the group's earlier jobs): at or a moment after the statement's time.
      else if (item.groupKey) expect(Number(row.delay_s)).toBeGreaterThanOrEqual(0);
      else expect(Number(row.delay_s)).toBe(0);
      if (!item.runAt && !item.delayMs) expect(Number(row.delay_s)).toBeLessThan(5);
    }
    // One varying column at a time, the rest alike: the same rows come back.
    const single = await q.enqueueMany([
      { payload: { i: 100 }, priority: 1 },
      { payload: { i: 101 }, priority: 2 },
    ]);
    expect(single.map((j) => [j.payload.i, j.priority])).toEqual([
      [100, 1],
      [101, 2],
    ]);
  });

  it('returns each job exactly as stored, payload and meta included, for batches and trees', async () => {
    const q = await t.arbiter.createQueue<{ i: number; s?: string }>('many_as_stored');
    const runAt = new Date(Date.now() + 5_400_123);
    const jobs = await q.enqueueMany(
      Array.from({ length: 20 }, (_, i) => ({
        payload: i % 3 ? { i } : { i, s: 'z"y\\x \u{1F600}' },
        ...(i % 2 ? { groupKey: `g${i % 3}` } : {}),
        ...(i % 4 === 1 ? { delayMs: 3_600_123 } : i === 6 ? { runAt } : {}),
        ...(i % 5 === 0 ? { priority: 7 - i } : {}),
        ...(i === 4 ? { meta: { b: 1, a: { c: [null, 2.5] } } } : {}),
        ...(i === 8 ? { suspended: true, maxAttempts: 3 } : {}),
      })),
    );
    expect(jobs).toHaveLength(20);
    for (const job of jobs) expect(job).toEqual(await q.jobs.get(job.id));
    const tree = await q.enqueueTree({
      payload: { i: 100 },
      rollup: true,
      children: [
        { payload: { i: 101 }, options: { groupKey: 'tg' } },
        { payload: { i: 102 }, options: { delayMs: 3_600_000, meta: { k: 'v' } } },
      ],
    });
    for (const node of [tree.job, ...tree.children.map((c) => c.job)])
      expect(node).toEqual(await q.jobs.get(node.id));
  });

  it('keeps the last occurrence of a dedup key and returns only inserted or replaced jobs', async () => {
    const q = await t.arbiter.createQueue<{ v: number }>('many_dedup');
    await q.enqueue({ v: 0 }, { dedup: { key: 'existing' } });
    const out = await q.enqueueMany([
      { payload: { v: 1 }, dedup: { key: 'a' } },
      { payload: { v: 2 }, dedup: { key: 'a' } },
      { payload: { v: 3 }, dedup: { key: 'existing' } },
      { payload: { v: 4 }, dedup: { key: 'r', mode: 'replace' } },
      { payload: { v: 5 }, dedup: { key: 'r', mode: 'replace' } },
      { payload: { v: 6 } },
    ]);
    expect(out.map((j) => j.payload.v).sort()).toEqual([2, 5, 6]);
    expect(await count('many_dedup')).toBe(4);
    const replaced = await q.enqueueMany([{ payload: { v: 7 }, dedup: { key: 'r', mode: 'replace' } }]);
    expect(replaced.map((j) => j.payload.v)).toEqual([7]);
    expect(await count('many_dedup')).toBe(4);
  });

  it('rejects the whole batch when one item is bad, writing nothing', async () => {
    const q = await t.arbiter.createQueue('many_bad');
    await expect(
      q.enqueueMany([{ payload: { ok: 1 } }, { payload: { bad: () => 1 } }]),
    ).rejects.toMatchObject({
      code: 'PAYLOAD_NOT_SERIALIZABLE',
    });
    await expect(
      q.enqueueMany([{ payload: 1 }, { payload: 2, parentId: '123456789' }]),
    ).rejects.toBeInstanceOf(ParentNotFoundError);
    expect(await count('many_bad')).toBe(0);
  });
});

describe('enqueueTree', () => {
  it('inserts a suspended parent with children atomically', async () => {
    const q = await t.arbiter.createQueue<{ step: string }>('tree_basic');
    const tree = await q.enqueueTree({
      payload: { step: 'finalize' },
      rollup: true,
      children: [
        { payload: { step: 'a' } },
        { payload: { step: 'b' }, children: [{ payload: { step: 'b1' } }] },
      ],
    });
    expect(tree.job).toMatchObject({ suspended: true, isRollup: true, status: 'waiting' });
    expect(tree.children.map((c) => c.job.status)).toEqual(['ready', 'waiting']);
    expect(tree.job).toEqual(await q.jobs.get(tree.job.id));
    expect(tree.children.map((c) => c.job.parentId)).toEqual([tree.job.id, tree.job.id]);
    expect(tree.children[1]!.job.suspended).toBe(true);
    expect(tree.children[1]!.children[0]!.job.parentId).toBe(tree.children[1]!.job.id);
    const claimed = await q.claim({ limit: 10 });
    expect(claimed.map((j) => j.payload.step).sort()).toEqual(['a', 'b1']);
  });

  it('writes nothing when any node is invalid', async () => {
    const q = await t.arbiter.createQueue('tree_bad');
    await expect(
      q.enqueueTree({ payload: 1, children: [{ payload: 2 }, { payload: 3, options: { priority: 1e9 } }] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      q.enqueueTree({ payload: 1, options: { parentId: '424242424' }, children: [] }),
    ).rejects.toBeInstanceOf(ParentNotFoundError);
    expect(await count('tree_bad')).toBe(0);
  });

  it("writes every node of a large tree under its own parent, in the caller's shape and order", async () => {
    type P = { path: string };
    const q = await t.arbiter.createQueue<P>('tree_levels');
    const groups = [null, 'gb', 'ga', 'gc'] as const;
    // Three levels, a few hundred nodes. Group keys vary among siblings, so a level's rows are reordered
    // by group before insert and a node's position in the level differs from its position in the insert.
    const node = (path: string, i: number, kids: TreeNode<P>[]): TreeNode<P> => {
      const groupKey = groups[(i * 7 + path.length) % groups.length]!;
      return {
        payload: { path },
        options: { ...(groupKey ? { groupKey } : {}), priority: ((i * 5) % 9) - 4 },
        ...(i % 3 === 0 ? { rollup: true } : {}),
        ...(kids.length > 0 ? { children: kids } : {}),
      };
    };
    const mids = Array.from({ length: 16 }, (_, i) => {
      // Some middle nodes are leaves, the others have up to 37 children.
      const n = i % 4 === 1 ? 0 : 10 + ((i * 13) % 28);
      return node(
        `0.${i}`,
        i,
        Array.from({ length: n }, (_, j) => node(`0.${i}.${j}`, j, [])),
      );
    });
    const root: TreeNode<P> = { payload: { path: '0' }, rollup: true, children: mids };
    const tree = await q.enqueueTree(root);

    // Every input node, with the path of its parent.
    const inputs = new Map<string, { node: TreeNode<P>; parent: string | null }>();
    const index = (n: TreeNode<P>, parent: string | null) => {
      inputs.set(n.payload.path, { node: n, parent });
      for (const c of n.children ?? []) index(c, n.payload.path);
    };
    index(root, null);
    expect(inputs.size).toBeGreaterThan(300);

    const { rows } = await t.pool.query(
      `SELECT id, parent_id, suspended, is_rollup, payload, group_key, priority FROM "${t.schema}".tree_levels`,
    );
    expect(rows).toHaveLength(inputs.size);
    const byPath = new Map<string, (typeof rows)[number]>(rows.map((r) => [r.payload.path as string, r]));
    for (const [path, { node: n, parent }] of inputs) {
      const row = byPath.get(path)!;
      expect(row, path).toBeDefined();
      expect(row.parent_id, path).toBe(parent === null ? null : byPath.get(parent)!.id);
      expect(row.suspended, path).toBe((n.children ?? []).length > 0);
      expect(row.is_rollup, path).toBe(n.rollup ?? false);
      expect(row.payload, path).toEqual(n.payload);
      expect(row.group_key, path).toBe(n.options?.groupKey ?? null);
      expect(row.priority, path).toBe(n.options?.priority ?? 0);
    }

    // The returned tree mirrors the input: same shape, same order, each job the row written for its node.
    const mirror = (n: TreeNode<P>, out: InsertedTree<P>, parentId: string | null) => {
      const path = n.payload.path;
      expect(out.job.payload, path).toEqual(n.payload);
      expect(out.job.id, path).toBe(byPath.get(path)!.id);
      expect(out.job.parentId, path).toBe(parentId);
      expect(out.job.groupKey, path).toBe(n.options?.groupKey ?? null);
      expect(out.children, path).toHaveLength((n.children ?? []).length);
      (n.children ?? []).forEach((c, i) => mirror(c, out.children[i]!, out.job.id));
    };
    mirror(root, tree, null);

    // Siblings in one group keep their order in ids, so the group runs them in the caller's order.
    for (const mid of tree.children) {
      for (const g of groups.filter((x) => x !== null)) {
        const ids = mid.children.filter((c) => c.job.groupKey === g).map((c) => BigInt(c.job.id));
        expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }
    }
  });

  it('inserts a level wider than one statement takes', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('tree_wide');
    const children = Array.from({ length: 2_345 }, (_, i) => ({
      payload: { i },
      options: i % 2 ? { groupKey: `g${i % 5}` } : {},
    }));
    const tree = await q.enqueueTree({ payload: { i: -1 }, children });
    expect(tree.children.map((c) => c.job.payload.i)).toEqual(children.map((c) => c.payload.i));
    expect(new Set(tree.children.map((c) => c.job.parentId))).toEqual(new Set([tree.job.id]));
    const { rows } = await t.pool.query(
      `SELECT id, parent_id, payload FROM "${t.schema}".tree_wide WHERE parent_id IS NOT NULL`,
    );
    expect(rows).toHaveLength(children.length);
    const idOf = new Map(rows.map((r) => [r.payload.i as number, r.id as string]));
    tree.children.forEach((c, i) => expect(c.job.id).toBe(idOf.get(i)));
  });
});
