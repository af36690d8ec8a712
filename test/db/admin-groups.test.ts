import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, type Job, type Queue } from '../../src/index.js';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

type P = { n: number };

interface GroupRow {
  group_key: string;
  min_priority: number;
  min_id: string | null;
  in_flight_count: number;
  in_flight_until: Date | null;
  ready_at: Date | null;
}

async function groups(queue: string): Promise<GroupRow[]> {
  const { rows } = await t.pool.query<GroupRow>(
    `SELECT * FROM "${t.schema}"."${queue}_groups" ORDER BY group_key`,
  );
  return rows;
}

/** What the groups table must say about heads, computed straight from the jobs. */
async function expectedHeads(queue: string) {
  const { rows } = await t.pool.query(
    `SELECT DISTINCT ON (group_key) group_key, priority AS min_priority, id AS min_id
     FROM "${t.schema}"."${queue}" WHERE group_key IS NOT NULL ORDER BY group_key, priority, id`,
  );
  return rows;
}

function heads(rows: GroupRow[]) {
  return rows.map(({ group_key, min_priority, min_id }) => ({
    group_key,
    min_priority,
    min_id,
  }));
}

describe('refreshGroups', () => {
  let q: Queue<P>;
  const j: Record<string, Job<P>> = {};
  let healthy: GroupRow[];
  beforeAll(async () => {
    q = await t.arbiter.createQueue<P>('grp');
    j.run1 = (await q.enqueue({ n: 1 }, { groupKey: 'run' }))!;
    j.run2 = (await q.enqueue({ n: 2 }, { groupKey: 'run' }))!;
    j.retry1 = (await q.enqueue({ n: 3 }, { groupKey: 'retry' }))!;
    j.retry2 = (await q.enqueue({ n: 4 }, { groupKey: 'retry' }))!;
    const claimed = await q.claim({ limit: 2 });
    expect(claimed.map((c) => c.id).sort()).toEqual([j.run1.id, j.retry1.id].sort());
    const failed = claimed.find((c) => c.id === j.retry1!.id)!;
    expect(await q.retry(failed, { delayMs: 3_600_000, error: 'boom' })).toBe(1);
    j.delay = (await q.enqueue({ n: 5 }, { groupKey: 'delay', delayMs: 3_600_000 }))!;
    j.susp = (await q.enqueue({ n: 6 }, { groupKey: 'susp', suspended: true }))!;
    j.ready1 = (await q.enqueue({ n: 7 }, { groupKey: 'ready', priority: 3 }))!;
    j.ready2 = (await q.enqueue({ n: 8 }, { groupKey: 'ready', priority: 1 }))!;
    j.ready3 = (await q.enqueue({ n: 9 }, { groupKey: 'ready', priority: 1 }))!;
    healthy = await groups('grp');
  });

  it('agrees with the triggers on a healthy table and computes exact readiness', async () => {
    expect(await q.jobs.refreshGroups()).toBe(true);
    const after = await groups('grp');
    expect(heads(after)).toEqual(heads(healthy));
    expect(heads(after)).toEqual(await expectedHeads('grp'));
    const by = new Map(after.map((g) => [g.group_key, g]));
    const run1 = (await q.jobs.get(j.run1!.id))!;
    const retry1 = (await q.jobs.get(j.retry1!.id))!;
    expect(by.get('run')).toMatchObject({
      in_flight_count: 1,
      in_flight_until: run1.leasedUntil,
      ready_at: run1.leasedUntil,
    });
    expect(by.get('retry')).toMatchObject({
      in_flight_count: 0,
      in_flight_until: retry1.runAt,
      ready_at: retry1.runAt,
    });
    expect(by.get('delay')).toMatchObject({ in_flight_until: null, ready_at: j.delay!.runAt });
    expect(by.get('susp')).toMatchObject({ in_flight_until: null, ready_at: null });
    expect(by.get('ready')).toMatchObject({
      min_priority: 1,
      min_id: j.ready2!.id,
      ready_at: j.ready1!.runAt,
    });
    for (const key of ['run', 'retry', 'delay', 'susp']) {
      expect(by.get(key)!.in_flight_until, key).toEqual(
        healthy.find((g) => g.group_key === key)!.in_flight_until,
      );
    }
  });

  it('repairs corrupted rows, removes ghosts, restores missing groups, and claims then follow FIFO', async () => {
    const good = await groups('grp');
    const g = `"${t.schema}".grp_groups`;
    await t.pool.query(`UPDATE ${g} SET job_count = 99, min_priority = 7, min_id = NULL, ready_at = NULL,
      in_flight_count = 4, in_flight_until = now() + interval '1 day' WHERE group_key = 'ready'`);
    await t.pool.query(
      `UPDATE ${g} SET in_flight_until = NULL, ready_at = now() - interval '1 hour' WHERE group_key = 'retry'`,
    );
    await t.pool.query(`DELETE FROM ${g} WHERE group_key = 'delay'`);
    await t.pool.query(`INSERT INTO ${g} (group_key, job_count, min_priority, min_id, ready_at)
      VALUES ('ghost', 3, 0, 424242, now() - interval '1 hour')`);
    // Corrupted: the ready group looks blocked, the failed group looks free.
    const wrong = await q.claim({ limit: 10 });
    expect(wrong.map((c) => c.id)).toEqual([j.retry2!.id]);
    expect(await q.retry(wrong[0]!, { delayMs: 0 })).toBe(1);
    await t.pool.query(`UPDATE "${t.schema}".grp SET attempts = 0, last_error = NULL WHERE id = $1`, [
      j.retry2!.id,
    ]);

    expect(await q.jobs.refreshGroups()).toBe(true);
    const repaired = await groups('grp');
    expect(heads(repaired)).toEqual(heads(good));
    expect(repaired.map((r) => r.group_key)).not.toContain('ghost');
    const retry1 = (await q.jobs.get(j.retry1!.id))!;
    expect(repaired.find((r) => r.group_key === 'retry')).toMatchObject({ in_flight_until: retry1.runAt });
    expect(repaired.find((r) => r.group_key === 'delay')).toMatchObject({ ready_at: j.delay!.runAt });

    const claimed = await q.claim({ limit: 10 });
    expect(claimed.map((c) => c.id)).toEqual([j.ready2!.id]);
    expect(await q.ack(claimed[0]!)).toBe(1);
    expect((await q.claim({ limit: 10 })).map((c) => c.id)).toEqual([j.ready3!.id]);
    expect(heads(await groups('grp'))).toEqual(await expectedHeads('grp'));
  });

  it('skips within minIntervalMs, validates its options, and records the run', async () => {
    const g = `"${t.schema}".grp_groups`;
    await t.pool.query(`UPDATE ${g} SET min_priority = 50 WHERE group_key = 'susp'`);
    expect(await q.jobs.refreshGroups({ minIntervalMs: 3_600_000 })).toBe(false);
    expect((await groups('grp')).find((r) => r.group_key === 'susp')!.min_priority).toBe(50);
    for (const bad of [
      { minIntervalMs: -1 },
      { minIntervalMs: 'x' },
      { minIntervalMs: Infinity },
      { every: 1 },
      5,
    ]) {
      await expect(q.jobs.refreshGroups(bad as never)).rejects.toBeInstanceOf(ValidationError);
    }
    expect((await groups('grp')).find((r) => r.group_key === 'susp')!.min_priority).toBe(50);
    expect(await q.jobs.refreshGroups({ minIntervalMs: 0 })).toBe(true);
    expect((await groups('grp')).find((r) => r.group_key === 'susp')!.min_priority).toBe(0);
    const { rows } = await t.pool.query(
      `SELECT now() - groups_refreshed_at < interval '1 minute' AS fresh FROM "${t.schema}"._queues WHERE name = 'grp'`,
    );
    expect(rows[0].fresh).toBe(true);
  });

  it('loses no trigger update while refreshes race with enqueues, claims and acks', async () => {
    const r = await t.arbiter.createQueue<P>('grp_race');
    // Single-row enqueues: a multi-row enqueueMany racing the claim can deadlock on group rows by itself
    // (the claim's trigger writes group rows in job order, enqueueMany in key order); not under test here.
    const work = async (w: number) => {
      for (let i = 0; i < 40; i++) {
        await r.enqueue({ n: i }, { groupKey: `k${(w + i) % 5}` });
        if (i % 3 === 2) for (const c of await r.claim({ limit: 3 })) await r.ack(c);
      }
    };
    const refresh = async () => {
      let ran = 0;
      for (let i = 0; i < 10; i++) if (await r.jobs.refreshGroups()) ran++;
      return ran;
    };
    const results = await Promise.all([work(0), work(1), work(2), refresh(), refresh()]);
    expect(results.slice(3)).toEqual([10, 10]);
    expect(heads(await groups('grp_race'))).toEqual(await expectedHeads('grp_race'));
    const { rows } = await t.pool.query(
      `SELECT count(*)::int AS n FROM "${t.schema}".grp_race_groups g WHERE g.in_flight_count <> 0`,
    );
    expect(rows[0].n).toBe(0);
  });
});
