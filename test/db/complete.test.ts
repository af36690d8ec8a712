import { describe, expect, it } from 'vitest';
import { untilBlockedBy, useTestDb } from '../support/db.js';

const t = useTestDb();

async function row(queue: string, id: string) {
  const { rows } = await t.pool.query(`SELECT * FROM "${t.schema}"."${queue}" WHERE id = $1`, [id]);
  return rows[0] as { suspended: boolean; leased_until: Date | null; attempts: number } | undefined;
}

describe('smart ack', () => {
  it('deletes a standalone job and returns 0 for a second ack', async () => {
    const q = await t.arbiter.createQueue('a_standalone');
    await q.enqueue({});
    const [job] = await q.claim();
    expect(await q.ack(job!)).toBe(1);
    expect(await q.ack(job!)).toBe(0);
    expect(await row('a_standalone', job!.id)).toBeUndefined();
  });

  it('stores child results and wakes the parent when the last child finishes', async () => {
    const q = await t.arbiter.createQueue<{ step: string }>('a_tree');
    const tree = await q.enqueueTree({
      payload: { step: 'parent' },
      rollup: true,
      children: [{ payload: { step: 'c1' } }, { payload: { step: 'c2' } }],
    });
    const kids = await q.claim({ limit: 5 });
    expect(kids).toHaveLength(2);
    expect(await q.ack(kids[0]!, { result: { ok: 1 } })).toBe(1);
    expect((await row('a_tree', tree.job.id))!.suspended).toBe(true);
    expect(await q.claim()).toEqual([]);
    expect(await q.ack(kids[1]!, { result: { ok: 2 } })).toBe(1);
    expect((await row('a_tree', tree.job.id))!.suspended).toBe(false);
    const { rows } = await t.pool.query(
      `SELECT child_id, result FROM "${t.schema}".a_tree_results WHERE parent_id = $1 ORDER BY child_id`,
      [tree.job.id],
    );
    expect(rows.map((r) => r.result)).toEqual([{ ok: 1 }, { ok: 2 }]);
    const [parent] = await q.claim();
    expect(parent!.id).toBe(tree.job.id);
    expect(await q.ack(parent!)).toBe(1);
    const left = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".a_tree_results`);
    expect(left.rows[0].n).toBe(0);
  });

  it('suspends a parent that acks while it still has children, and runs it again after them', async () => {
    const q = await t.arbiter.createQueue<{ step: string }>('a_spawn');
    await q.enqueue({ step: 'parent' });
    const [parent] = await q.claim();
    const child = await q.enqueue({ step: 'child' }, { parentId: parent!.id });
    expect(await q.ack(parent!)).toBe(1);
    expect(await row('a_spawn', parent!.id)).toMatchObject({ suspended: true, leased_until: null });
    const [c] = await q.claim();
    expect(c!.id).toBe(child!.id);
    expect(await q.ack(c!)).toBe(1);
    const [round2] = await q.claim();
    expect(round2).toMatchObject({ id: parent!.id, attempts: 2 });
    expect(await q.ack(round2!)).toBe(1);
    expect(await row('a_spawn', parent!.id)).toBeUndefined();
  });

  it('ackMany gives every job smart-ack treatment; ackBulk leaves tree jobs alone', async () => {
    const q = await t.arbiter.createQueue<{ step: string }>('a_many');
    const tree = await q.enqueueTree({ payload: { step: 'p' }, children: [{ payload: { step: 'c' } }] });
    await q.enqueueMany([{ payload: { step: 's1' } }, { payload: { step: 's2' } }]);
    const jobs = await q.claim({ limit: 10 });
    expect(jobs).toHaveLength(3);
    const child = jobs.find((j) => j.payload.step === 'c')!;
    const deleted = await q.ackBulk(jobs);
    expect(deleted.sort()).toEqual(
      jobs
        .filter((j) => j !== child)
        .map((j) => j.id)
        .sort(),
    );
    expect(await q.ackMany([child])).toBe(1);
    expect((await row('a_many', tree.job.id))!.suspended).toBe(false);
  });

  it('ackBulk takes grouped and ungrouped jobs in one call, and a group moves on to its next job', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('a_bulk_mixed');
    await q.enqueueMany([
      { payload: { n: 1 }, groupKey: 'g' },
      { payload: { n: 2 }, groupKey: 'g' },
      { payload: { n: 3 }, groupKey: 'h' },
      { payload: { n: 4 } },
      { payload: { n: 5 } },
    ]);
    const first = await q.claim({ limit: 10 });
    expect(first.map((j) => j.payload.n).sort()).toEqual([1, 3, 4, 5]);
    const stale = { id: first[0]!.id, attempts: first[0]!.attempts + 1 };
    const deleted = await q.ackBulk([...first, stale]);
    expect(deleted.sort()).toEqual(first.map((j) => j.id).sort());
    for (const j of first) expect(await row('a_bulk_mixed', j.id)).toBeUndefined();
    const next = await q.claim({ limit: 10 });
    expect(next.map((j) => j.payload.n)).toEqual([2]);
    expect(await q.ackBulk(next)).toEqual([next[0]!.id]);
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".a_bulk_mixed_groups`);
    expect(rows[0].n).toBe(0);
  });

  it('ackBulk still acks a job whose row another transaction changed while the ack waited for it', async () => {
    const q = await t.arbiter.createQueue('a_bulk_moved');
    await q.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
    const jobs = await q.claim({ limit: 2 });
    const other = await t.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM "${t.schema}".a_bulk_moved WHERE id = $1 FOR UPDATE`, [jobs[0]!.id]);
      const acked = q.ackBulk(jobs);
      // Once the ack waits on the row lock, the holder extends the lease (a new row version) and commits.
      await untilBlockedBy(t.pool, other);
      await other.query(
        `UPDATE "${t.schema}".a_bulk_moved SET leased_until = leased_until + interval '1 minute',
           run_at = run_at + interval '1 minute' WHERE id = $1`,
        [jobs[0]!.id],
      );
      await other.query('COMMIT');
      expect((await acked).sort()).toEqual(jobs.map((j) => j.id).sort());
    } finally {
      await other.end();
    }
    for (const j of jobs) expect(await row('a_bulk_moved', j.id)).toBeUndefined();
  });

  it('a parent on its last attempt still gets its completion round after its children', async () => {
    const q = await t.arbiter.createQueue<{ step: string }>('a_last_round');
    await q.enqueue({ step: 'parent' }, { maxAttempts: 1 });
    const [parent] = await q.claim();
    await q.enqueue({ step: 'child' }, { parentId: parent!.id });
    expect(await q.ack(parent!)).toBe(1);
    const [child] = await q.claim();
    expect(await q.ack(child!)).toBe(1);
    const [round2] = await q.claim();
    expect(round2).toMatchObject({ id: parent!.id, attempts: 2 });
  });
});

describe('retry on the final attempt', () => {
  it('leaves the job exhausted for the reaper instead of stuck', async () => {
    const q = await t.arbiter.createQueue('a_final_retry');
    await q.enqueue({}, { maxAttempts: 1 });
    const [job] = await q.claim();
    expect(await q.retry(job!, { delayMs: 60_000, error: 'boom' })).toBe(1);
    expect((await q.jobs.get(job!.id))!.status).toBe('exhausted');
    expect(await q.claim()).toEqual([]);
    expect(await q.dlq.reapExhausted()).toBe(1);
    const dead = await q.dlq.list();
    expect(dead.items.map((d) => d.jobId)).toEqual([job!.id]);
  });
});
