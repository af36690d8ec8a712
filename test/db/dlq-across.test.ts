import { describe, expect, it } from 'vitest';
import { QueueNotFoundError, ValidationError } from '../../src/index.js';
import type { DeadJob } from '../../src/types.js';
import { useTestDb } from '../support/db.js';

const db = useTestDb();

/** Dead-letters `n` jobs of a queue (payload { q, i }, every other one in group "g"). */
async function deadLetters(queue: string, n: number): Promise<void> {
  const q = await db.arbiter.createQueue(queue);
  await q.enqueueMany(
    Array.from({ length: n }, (_, i) => ({ payload: { q: queue, i }, groupKey: i % 2 ? 'g' : null })),
  );
  // A group hands out one job at a time: claim until every job has been dead-lettered.
  for (let moved = 0; moved < n;) {
    for (const job of await q.claim({ limit: n })) {
      await q.dlq.move(job, `boom ${queue} ${job.id}`);
      moved++;
    }
  }
}

async function walk(options: Parameters<typeof db.arbiter.deadLetters.list>[0] = {}): Promise<DeadJob[]> {
  const seen: DeadJob[] = [];
  let cursor: string | null = null;
  do {
    const page = await db.arbiter.deadLetters.list({ ...options, cursor });
    seen.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return seen;
}

const key = (d: DeadJob) => `${d.queue}:${d.id}`;

describe('arbiter.deadLetters', () => {
  it('lists every queue’s dead letters as one keyset-paged listing, ties in a stable order', async () => {
    await deadLetters('xa', 3);
    await deadLetters('xb', 2);
    await deadLetters('x_c', 3);
    // Same failure time everywhere for some: the order must still be total and stable across pages.
    await db.pool.query(
      `UPDATE "${db.schema}".xa_dlq SET failed_at = '2030-01-01T00:00:00.123456Z' WHERE id <= 2`,
    );
    await db.pool.query(`UPDATE "${db.schema}".x_c_dlq SET failed_at = '2030-01-01T00:00:00.123456Z'`);
    await db.pool.query(
      `UPDATE "${db.schema}".xb_dlq SET failed_at = '2030-01-01T00:00:00.123456Z' WHERE id = 1`,
    );

    const all = await walk({ limit: 1000 });
    expect(all).toHaveLength(8);
    const expected = [...all].sort(
      (a, b) =>
        b.failedAt.getTime() - a.failedAt.getTime() ||
        (a.queue < b.queue ? 1 : a.queue > b.queue ? -1 : 0) ||
        Number(b.id) - Number(a.id),
    );
    expect(all.map(key)).toEqual(expected.map(key));
    for (const limit of [1, 2, 3])
      expect((await walk({ limit })).map(key), `limit ${limit}`).toEqual(all.map(key));

    expect((await walk({ queues: ['xb'] })).map(key)).toEqual(all.filter((d) => d.queue === 'xb').map(key));
    expect((await walk({ filter: { groupKey: 'g' } })).map(key)).toEqual(
      all.filter((d) => d.groupKey === 'g').map(key),
    );
    expect(await db.arbiter.deadLetters.count()).toEqual({ value: 8, exact: true, kind: 'exact' });
    expect(await db.arbiter.deadLetters.count({ cap: 2 })).toEqual({
      value: 6,
      exact: false,
      kind: 'atLeast',
    });
    expect(await db.arbiter.deadLetters.count({ queues: ['xa'], filter: { groupKey: 'g' } })).toMatchObject({
      value: 1,
    });
  });

  it('retries every match, a page per call, following the cursor', async () => {
    await deadLetters('ya', 4);
    await deadLetters('yb', 3);
    const before = await db.arbiter.deadLetters.count({ queues: ['ya', 'yb'], filter: { groupKey: 'g' } });
    expect(before.value).toBe(3);
    const retried: string[] = [];
    let cursor: string | null = null;
    let calls = 0;
    do {
      const out = await db.arbiter.deadLetters.retryMatching({
        queues: ['ya', 'yb'],
        filter: { groupKey: 'g' },
        limit: 2,
        cursor,
      });
      retried.push(...out.retried.map((r) => `${r.queue}:${r.id}`));
      expect(out.missing).toBe(0);
      cursor = out.nextCursor;
      calls++;
    } while (cursor !== null);
    expect(calls).toBe(2);
    expect(retried).toHaveLength(3);
    expect(await db.arbiter.deadLetters.count({ queues: ['ya', 'yb'] })).toMatchObject({ value: 4 });
    expect(await db.arbiter.queue('ya').jobs.count({ groupKey: 'g' })).toBe(2);
    expect(await db.arbiter.queue('yb').jobs.count({ groupKey: 'g' })).toBe(1);
  });

  it('refuses unknown queues and foreign cursors', async () => {
    await expect(db.arbiter.deadLetters.list({ queues: ['no_such_q'] })).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
    await expect(db.arbiter.deadLetters.list({ queues: ['Bad Name'] })).rejects.toBeInstanceOf(
      ValidationError,
    );
    const perQueue = (await db.arbiter.queue('xa').dlq.list({ limit: 1 })).nextCursor!;
    await expect(db.arbiter.deadLetters.list({ cursor: perQueue })).rejects.toThrow(/options\.cursor/);
    await expect(db.arbiter.deadLetters.list({ filter: { status: 'dead' } as never })).rejects.toThrow(
      /options\.filter\.status: unknown option/,
    );
  });
});
