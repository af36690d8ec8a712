import { describe, expect, it } from 'vitest';
import { ParentNotFoundError } from '../../src/index.js';
import { useTestDb } from '../support/db.js';

// Migration 0003 replaced the parent/child foreign keys with triggers that cost standalone jobs nothing
// per row. These tests hold the triggers to the foreign key's promises: no child without a parent, no
// parent deleted under its children, child results removed with their parent, even under races.
const t = useTestDb({ poolSize: 24 });

const pgCode = (err: unknown) => (err as { code?: string }).code;

describe('tree integrity without foreign keys', () => {
  it('has no foreign keys on the job and results tables, and the tree triggers instead', async () => {
    await t.arbiter.createQueue('ti_shape');
    const { rows: fks } = await t.pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = $1::regnamespace`,
      [t.schema],
    );
    expect(fks).toEqual([]);
    const { rows: triggers } = await t.pool.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'ti_shape%' ORDER BY tgname`,
    );
    expect(triggers.map((r) => r.tgname)).toEqual(
      expect.arrayContaining(['ti_shape_results_parent', 'ti_shape_tree_del', 'ti_shape_tree_parent']),
    );
  });

  it('refuses a child of a missing parent, by insert and by update, with the foreign-key error', async () => {
    const q = await t.arbiter.createQueue('ti_missing');
    await expect(q.enqueue({}, { parentId: '424242' })).rejects.toBeInstanceOf(ParentNotFoundError);
    const job = await q.enqueue({});
    const err = await t.pool
      .query(`UPDATE "${t.schema}".ti_missing SET parent_id = 424242 WHERE id = $1`, [job!.id])
      .catch((e: unknown) => e);
    expect(pgCode(err)).toBe('23503');
    expect((err as { constraint?: string }).constraint).toBe('ti_missing_parent_id_fkey');
    expect(await q.jobs.count()).toBe(1);
  });

  it('refuses to delete a parent that still has children, and allows deleting a whole subtree at once', async () => {
    const q = await t.arbiter.createQueue('ti_orphan');
    const parent = await q.enqueue({ p: 1 });
    const child = await q.enqueue({ c: 1 }, { parentId: parent!.id });
    const table = `"${t.schema}".ti_orphan`;
    const err = await t.pool
      .query(`DELETE FROM ${table} WHERE id = $1`, [parent!.id])
      .catch((e: unknown) => e);
    expect(pgCode(err)).toBe('23503');
    expect(await q.jobs.count()).toBe(2);
    const res = await t.pool.query(`DELETE FROM ${table} WHERE id = ANY($1::bigint[])`, [
      [parent!.id, child!.id],
    ]);
    expect(res.rowCount).toBe(2);
  });

  it('removes a deleted parent’s stored child results and refuses results for a missing parent', async () => {
    const q = await t.arbiter.createQueue('ti_results');
    const parent = await q.enqueue({});
    const other = await q.enqueue({});
    await q.results.insert(parent!.id, 1, { v: 1 });
    await q.results.insert(other!.id, 2, { v: 2 });
    const table = `"${t.schema}".ti_results`;
    await t.pool.query(`DELETE FROM ${table} WHERE id = $1`, [parent!.id]);
    const { rows } = await t.pool.query<{ parent_id: string }>(
      `SELECT parent_id::text FROM "${t.schema}".ti_results_results ORDER BY parent_id`,
    );
    expect(rows).toEqual([{ parent_id: other!.id }]);
    await expect(q.results.insert(parent!.id, 3, 'x')).rejects.toBeInstanceOf(ParentNotFoundError);
  });

  it('a child inserted while its parent is deleted: exactly one of the two wins, never an orphan (60 rounds)', async () => {
    const q = await t.arbiter.createQueue('ti_race');
    const table = `"${t.schema}".ti_race`;
    let childWon = 0;
    let deleteWon = 0;
    for (let round = 0; round < 60; round++) {
      const parent = await q.enqueue({ round });
      const inserter = await t.pool.connect();
      const deleter = await t.pool.connect();
      try {
        await Promise.all([inserter.query('BEGIN'), deleter.query('BEGIN')]);
        // Both statements are sent at once; whichever finishes first (the other may be waiting on its row
        // lock) commits first, then the other finishes and commits, or fails and rolls back.
        const settled = (p: Promise<unknown>) =>
          p.then(
            () => true,
            (e: unknown) => {
              expect(pgCode(e)).toBe('23503');
              return false;
            },
          );
        const ins = settled(
          inserter.query(`INSERT INTO ${table} (payload, parent_id) VALUES ('{}', $1)`, [parent!.id]),
        );
        const del = settled(deleter.query(`DELETE FROM ${table} WHERE id = $1`, [parent!.id]));
        const first = await Promise.race([ins.then(() => 'ins' as const), del.then(() => 'del' as const)]);
        const order =
          first === 'ins'
            ? ([
                [inserter, ins],
                [deleter, del],
              ] as const)
            : ([
                [deleter, del],
                [inserter, ins],
              ] as const);
        const results: boolean[] = [];
        for (const [client, outcome] of order) {
          const ok = await outcome;
          results.push(ok);
          await client.query(ok ? 'COMMIT' : 'ROLLBACK');
        }
        expect(results.filter(Boolean)).toHaveLength(1);
        if (await ins) childWon++;
        if (await del) deleteWon++;
      } finally {
        inserter.release();
        deleter.release();
      }
      const { rows } = await t.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} c WHERE c.parent_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM ${table} p WHERE p.id = c.parent_id)`,
      );
      expect(rows[0]!.n).toBe(0);
    }
    // Both interleavings happened: sometimes the child got in first, sometimes the delete did.
    expect(childWon + deleteWon).toBe(60);
    expect(childWon).toBeGreaterThan(0);
    expect(deleteWon).toBeGreaterThan(0);
  });
});
