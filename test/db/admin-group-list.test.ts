import { describe, expect, it } from 'vitest';
import type { GroupInfo } from '../../src/client/groups.js';
import { useTestDb } from '../support/db.js';

const db = useTestDb();
const HOUR = 3_600_000;

describe('queue.jobs.listGroups', () => {
  it('says for each group whether it is blocked, by which job and why', async () => {
    const q = await db.arbiter.createQueue('gl');
    // a: head in flight, 2 jobs behind it
    const [a1] = await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n }, groupKey: 'a' })));
    // b: head failed and waits for its retry
    const [b1] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'b' })));
    // c: ready, head runs next
    const [c1] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'c' })));
    // d: only a delayed job: idle
    const d1 = (await q.enqueue({ n: 1 }, { groupKey: 'd', delayMs: HOUR }))!;
    // e: head suspended, the job behind it runs (suspension does not block a group)
    const e1 = (await q.enqueue({ n: 1 }, { groupKey: 'e', suspended: true }))!;
    const e2 = (await q.enqueue({ n: 2 }, { groupKey: 'e' }))!;

    const claimed = await q.claim({ limit: 2, workerId: 'w-1', leaseMs: 10 * 60_000 });
    expect(claimed.map((j) => j.id).sort()).toEqual([a1!.id, b1!.id].sort());
    const b = claimed.find((j) => j.id === b1!.id)!;
    await q.retry(b, { delayMs: HOUR, error: 'upstream 503' });

    const page = await q.jobs.listGroups();
    expect(page.nextCursor).toBeNull();
    const by = Object.fromEntries(page.items.map((g) => [g.groupKey, g])) as Record<string, GroupInfo>;
    expect(page.items.map((g) => g.groupKey)).toEqual(['a', 'b', 'c', 'd', 'e']);

    expect(by.a).toMatchObject({ jobCount: 3, state: 'in-flight', blocked: true, nextJobId: null });
    expect(by.a!.blocker).toMatchObject({ id: a1!.id, status: 'in-flight', workerId: 'w-1' });
    expect(by.a!.head?.id).toBe(a1!.id);
    expect(by.a!.reason).toContain(`job ${a1!.id} is in flight on w-1`);
    expect(by.a!.blockedUntil!.getTime()).toBeGreaterThan(Date.now());

    expect(by.b).toMatchObject({ jobCount: 2, state: 'retrying', blocked: true, nextJobId: null });
    expect(by.b!.blocker).toMatchObject({
      id: b1!.id,
      status: 'retrying',
      lastError: 'upstream 503',
      attempts: 1,
    });
    expect(by.b!.reason).toContain('upstream 503');
    expect(by.b!.blockedUntil!.getTime()).toBeGreaterThan(Date.now() + HOUR / 2);

    expect(by.c).toMatchObject({
      jobCount: 2,
      state: 'ready',
      blocked: false,
      nextJobId: c1!.id,
      blocker: null,
    });
    expect(by.c!.head).toMatchObject({ id: c1!.id, status: 'ready' });
    expect(by.c!.reason).toBe(`head job ${c1!.id} runs next`);

    expect(by.d).toMatchObject({ jobCount: 1, state: 'idle', blocked: false, nextJobId: null });
    expect(by.d!.head).toMatchObject({ id: d1.id, status: 'scheduled' });
    expect(by.d!.reason).toContain('is scheduled for');

    expect(by.e).toMatchObject({ jobCount: 2, state: 'ready', blocked: false, nextJobId: e2.id });
    expect(by.e!.head).toMatchObject({ id: e1.id, status: 'suspended' });

    // What the listing says runs next is what a claim takes.
    const next = await q.claim({ limit: 10 });
    expect(next.map((j) => j.id).sort()).toEqual([c1!.id, e2.id].sort());
  });

  it('pages in key order with a cursor, gap- and duplicate-free, over keys of any shape', async () => {
    const q = await db.arbiter.createQueue('gp');
    const keys = ["' OR 1=1 --", 'k'.repeat(512), 'émoji 🎉', 'b', 'a', 'z"; DROP TABLE x; --', 'm'];
    await q.enqueueMany(keys.map((groupKey, n) => ({ payload: { n }, groupKey })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: GroupInfo[]; nextCursor: string | null } = await q.jobs.listGroups({
        limit: 2,
        cursor,
      });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((g) => g.groupKey));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(4);
    const { rows } = await db.pool.query<{ k: string }>(
      `SELECT group_key AS k FROM "${db.schema}".gp_groups ORDER BY group_key`,
    );
    expect(seen).toEqual(rows.map((r) => r.k));
    expect(new Set(seen).size).toBe(keys.length);
  });

  it('refuses bad page options and tampered cursors before any I/O', async () => {
    const q = db.arbiter.queue('gp');
    await expect(q.jobs.listGroups({ limit: 0 })).rejects.toMatchObject({ field: 'page.limit' });
    await expect(q.jobs.listGroups({ limit: 1001 })).rejects.toMatchObject({ field: 'page.limit' });
    await expect(q.jobs.listGroups({ cursor: 'WyJqb2JzOmlkLWRlc2MiLCIxIl0' })).rejects.toMatchObject({
      field: 'page.cursor',
    });
    await expect(q.jobs.listGroups({ nope: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(db.arbiter.queue('no_such').jobs.listGroups()).rejects.toMatchObject({
      code: 'QUEUE_NOT_FOUND',
    });
  });
});
