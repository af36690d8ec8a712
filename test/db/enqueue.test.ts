import { describe, expect, it } from 'vitest';
import { ParentNotFoundError, QueueNotFoundError } from '../../src/index.js';
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
      status: 'pending',
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
    expect(tree.job).toMatchObject({ suspended: true, isRollup: true });
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
});
