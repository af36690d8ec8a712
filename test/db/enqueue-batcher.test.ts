// Concurrent plain enqueues are coalesced into multi-row statements (EnqueueBatcher): callers waiting
// together leave in one statement, and a second statement slot keeps enqueues moving while one statement
// waits on a lock.
import { describe, expect, it } from 'vitest';
import { untilBlockedBy, useTestDb } from '../support/db.js';

const t = useTestDb();

describe('coalesced enqueues', () => {
  it('racing callers share statements: every job inserted once, far fewer transactions than jobs', async () => {
    const q = await t.arbiter.createQueue<{ c: number; k: number }>('eb_share');
    const callers = 8;
    const each = 50;
    const ids = await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        const mine: string[] = [];
        for (let k = 0; k < each; k++) mine.push((await q.enqueue({ c, k }))!.id);
        return mine;
      }),
    );
    const all = ids.flat();
    expect(new Set(all).size).toBe(callers * each);
    const { rows } = await t.pool.query<{ jobs: number; txs: number; pairs: number }>(
      `SELECT count(*)::int AS jobs, count(DISTINCT xmin::text)::int AS txs,
              count(DISTINCT (payload->>'c', payload->>'k'))::int AS pairs
       FROM "${t.schema}".eb_share`,
    );
    expect(rows[0]).toMatchObject({ jobs: callers * each, pairs: callers * each });
    // Each statement commits on its own; rows that left together share their transaction id.
    expect(rows[0]!.txs).toBeLessThanOrEqual((callers * each) / 2);
    // Each caller's jobs were inserted in the order it made them.
    for (const mine of ids) expect([...mine].sort((a, b) => Number(a) - Number(b))).toEqual(mine);
  });

  it('a statement waiting on a lock does not hold up enqueues that come after it', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('eb_blocked');
    const holder = await t.connect();
    try {
      // A transaction that enqueued into group g holds g's group row until it ends.
      await holder.query('BEGIN');
      await q.enqueue({ n: 0 }, { groupKey: 'g', tx: holder });
      const blocked = q.enqueue({ n: 1 }, { groupKey: 'g' });
      await untilBlockedBy(t.pool, holder);
      // Ungrouped and other-group enqueues go out in the second statement slot and commit meanwhile.
      const other = await q.enqueue({ n: 2 });
      const elsewhere = await q.enqueue({ n: 3 }, { groupKey: 'h' });
      const visible = await t.pool.query<{ id: string }>(
        `SELECT id FROM "${t.schema}".eb_blocked ORDER BY id`,
      );
      expect(visible.rows.map((r) => r.id)).toEqual([other!.id, elsewhere!.id]);
      await holder.query('COMMIT');
      const late = await blocked;
      expect((await q.jobs.get(late!.id))!.groupKey).toBe('g');
    } finally {
      await holder.end();
    }
    const { rows } = await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}".eb_blocked`,
    );
    expect(rows[0]!.n).toBe(4);
  });
});
