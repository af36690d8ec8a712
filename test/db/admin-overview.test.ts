import { beforeAll, describe, expect, it } from 'vitest';
import { OverviewReader } from '../../src/client/overview.js';
import { Arbiter } from '../../src/client/arbiter.js';
import { readyPredicate } from '../../src/db/queries/filters.js';
import { OVERVIEW_PLANNER_SETTINGS, queueOverviewSql } from '../../src/db/queries/overview.js';
import { queueTables } from '../../src/db/sql.js';
import { useTestDb } from '../support/db.js';

const db = useTestDb();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}

/**
 * Every node of a plan with the rows it touched over all its loops: returned, plus those it read and threw
 * away. EXPLAIN reports both per loop (averaged and rounded), so each is multiplied back by the loops.
 */
function nodes(plan: PlanNode, out: { node: string; read: number; loops: number }[] = []) {
  const loops = plan['Actual Loops'];
  const read = Math.round(
    (plan['Actual Rows'] +
      (plan['Rows Removed by Filter'] ?? 0) +
      (plan['Rows Removed by Index Recheck'] ?? 0) +
      (plan['Rows Removed by Join Filter'] ?? 0)) *
      loops,
  );
  const name = [plan['Node Type'], plan['Index Name'] ?? plan['Relation Name']].filter(Boolean).join(' on ');
  out.push({ node: name, read, loops });
  for (const p of plan.Plans ?? []) nodes(p, out);
  return out;
}

/** EXPLAIN (ANALYZE) of a statement, optionally as a generic plan (a prepared statement reused by a driver). */
async function explain(text: string, values: unknown[], generic: boolean) {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    // The settings queueOverview runs under.
    for (const [k, v] of Object.entries(OVERVIEW_PLANNER_SETTINGS))
      await client.query(`SET LOCAL ${k} = ${v}`);
    if (!generic) {
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      );
      return nodes(rows[0]!['QUERY PLAN'][0].Plan);
    }
    await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
    const types = values.map((v) => (typeof v === 'number' ? 'int' : 'text'));
    await client.query(`PREPARE overview_generic(${types.join(', ')}) AS ${text}`);
    try {
      const lits = values.map((v) =>
        typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`,
      );
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE overview_generic(${lits.join(', ')})`,
      );
      return nodes(rows[0]!['QUERY PLAN'][0].Plan);
    } finally {
      await client.query('ROLLBACK');
      await client.query('DEALLOCATE overview_generic'); // PREPARE outlives the transaction
    }
  } finally {
    client.release();
  }
}

/**
 * The overview's claimable figure computed independently with a full scan: due ungrouped jobs the claim
 * may take, plus each group with such a job and no lease or retry wait holding it.
 */
async function claimableByScan(queue: string): Promise<{ n: number; oldest: Date | null }> {
  const t = queueTables(db.schema, queue);
  const ready = readyPredicate(t, 'j');
  const { rows } = await db.pool.query<{ n: string; oldest: Date | null }>(
    `WITH grp AS (
       SELECT g.group_key, g.ready_at FROM ${t.groups} g
       WHERE EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.group_key = g.group_key AND ${ready})
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} b WHERE b.group_key = g.group_key
           AND (b.leased_until > now() OR (b.leased_until IS NULL AND NOT b.suspended AND b.attempts > 0
                                           AND b.run_at > now()))))
     SELECT (SELECT count(*) FROM ${t.jobs} j WHERE j.group_key IS NULL AND ${ready})
              + (SELECT count(*) FROM grp) AS n,
            least((SELECT min(j.run_at) FROM ${t.jobs} j WHERE j.group_key IS NULL AND ${ready}),
                  (SELECT min(ready_at) FROM grp)) AS oldest`,
  );
  return { n: Number(rows[0]!.n), oldest: rows[0]!.oldest };
}

describe('queue.jobs.overview: bounded counts', () => {
  const CAP = 1000;
  const IN_FLIGHT = 40;
  // Priority levels of ungrouped, unsuspended jobs (-1, 0, 3, 5) and of groups (0, 1, 2): past the
  // budget, a level walk still reads one entry per level.
  const SLACK = 6;
  const Q = 'big';
  const TOTAL = 30_000 + 15_000 + 8_000 + 30 + 2_000 + 3_000 + 300 + 200 + 2_000 + 3_000 + 5_000 + IN_FLIGHT;

  beforeAll(async () => {
    await db.arbiter.createQueue(Q);
    const t = `"${db.schema}"."${Q}"`;
    // Physical order chosen to hurt a sequential scan or a filtered range: the rarest states come last.
    await db.pool.query(
      `INSERT INTO ${t} (payload, run_at, priority) SELECT jsonb_build_object('n', n), now() + interval '1 hour', 3
       FROM generate_series(1, 30000) n`,
    ); // scheduled, in a level of their own with nothing due
    await db.pool.query(
      `INSERT INTO ${t} (payload, attempts, run_at, last_error) SELECT '{}', 1, now() + interval '1 hour', 'e'
       FROM generate_series(1, 15000)`,
    ); // retrying
    await db.pool.query(
      `INSERT INTO ${t} (payload, suspended, run_at) SELECT '{}', true, now() - interval '1 day'
       FROM generate_series(1, 8000)`,
    ); // suspended (long due: a range that ignored the index predicate would read them first)
    await db.pool.query(
      `INSERT INTO ${t} (payload, priority, attempts, max_attempts, leased_until, run_at, claimed_at)
       SELECT '{}', -1, 3, 3, now() - interval '2 hours', now() - interval '2 hours', now() - interval '3 hours'
       FROM generate_series(1, 30)`,
    ); // exhausted: lease expired on the final attempt, due in the ready index but not claimable
    await db.pool.query(
      `INSERT INTO ${t} (payload, attempts, leased_until, run_at, claimed_at)
       SELECT '{}', 1, now() - interval '5 minutes', now() - interval '5 minutes', now() - interval '1 hour'
       FROM generate_series(1, 2000)`,
    ); // lease expired (worker gone): claimable again, and in the lease index below the in-flight range
    await db.pool.query(
      `INSERT INTO ${t} (payload, group_key, run_at, priority) SELECT '{}', 'later' || n, now() + interval '1 hour', 1
       FROM generate_series(1, 3000) n`,
    ); // groups with nothing due, in a level of their own
    await db.pool.query(
      `INSERT INTO ${t} (payload, priority, run_at) SELECT '{}', -1, now() - interval '10 minutes'
       FROM generate_series(1, 300)`,
    ); // ready, priority -1 (the oldest)
    await db.pool.query(`INSERT INTO ${t} (payload, priority) SELECT '{}', 5 FROM generate_series(1, 200)`);
    await db.pool.query(
      `INSERT INTO ${t} (payload, group_key, priority) SELECT '{}', 'hi' || n, 2 FROM generate_series(1, 2000) n`,
    ); // ready groups at min_priority 2
    await db.pool.query(
      `INSERT INTO ${t} (payload, group_key) SELECT '{}', 'g' || (n % 1500) FROM generate_series(1, 3000) n`,
    ); // ready groups (two jobs each: one claimable head)
    await db.pool.query(`INSERT INTO ${t} (payload) SELECT '{}' FROM generate_series(1, 5000)`); // ready
    // In flight, through UPDATE like a claim so the group triggers see the leases: 20 groups busy.
    await db.pool.query(
      `INSERT INTO ${t} (payload, group_key) SELECT '{"lease": 1}', CASE WHEN n <= 20 THEN 'busy' || n END
       FROM generate_series(1, ${IN_FLIGHT}) n`,
    );
    await db.pool.query(
      `UPDATE ${t} SET attempts = 1, leased_until = now() + interval '1 hour', run_at = now() + interval '1 hour',
         claimed_at = now() WHERE payload = '{"lease": 1}'`,
    );
    await db.pool.query(
      `INSERT INTO "${db.schema}"."${Q}_dlq" (job_id, payload, priority, attempts, max_attempts, is_rollup, created_at)
       SELECT n, '{}', 0, 25, 25, false, now() FROM generate_series(1, 20000) n`,
    );
    await db.pool.query(`ANALYZE ${t}`);
    await db.pool.query(`ANALYZE "${db.schema}"."${Q}_dlq"`);
    await db.pool.query(`ANALYZE "${db.schema}"."${Q}_groups"`);
  });

  for (const generic of [false, true]) {
    it(`no plan node reads more than cap+1 rows (+${SLACK}, one per priority level)${generic ? ', under a generic plan' : ''}`, async () => {
      const { text, values } = queueOverviewSql(queueTables(db.schema, Q), CAP);
      const all = await explain(text, values, generic);
      expect(all.length).toBeGreaterThan(20);
      if (process.env.SHOW_PLAN) console.log(JSON.stringify(all));
      const over = all.filter((n) => n.read > CAP + 1 + SLACK);
      expect(over, JSON.stringify(all, null, 1)).toEqual([]);
      // Never a sequential scan of anything but a plain LIMIT (the totals) on the job table.
      const seqOnJobs = all.filter((n) => n.node === `Seq Scan on ${Q}` && n.read > CAP + 1);
      expect(seqOnJobs).toEqual([]);
      // The claimable ranges are scans of the claim's indexes.
      const used = new Set(all.map((n) => n.node));
      expect(
        [...used].some((n) => n.includes(`${Q}_ready_idx`)),
        [...used].join('\n'),
      ).toBe(true);
      expect(
        [...used].some((n) => n.includes(`${Q}_groups_ready_idx`)),
        [...used].join('\n'),
      ).toBe(true);
      expect(
        [...used].some((n) => n.includes(`${Q}_leased_idx`)),
        [...used].join('\n'),
      ).toBe(true);
    });
  }

  it('the test data makes an unbounded count expensive (the check above would catch one)', async () => {
    // What the removed state index served: suspended jobs have no index range, so this filters the table.
    const t = queueTables(db.schema, Q);
    for (const generic of [false, true]) {
      const all = await explain(
        `SELECT count(*) FROM (SELECT 1 FROM ${t.jobs} j WHERE j.suspended LIMIT $1::int) c`,
        [CAP + 1],
        generic,
      );
      expect(all.filter((n) => n.read > CAP + 1 + SLACK).length).toBeGreaterThan(0);
    }
  });

  it('reports each figure as exact, a lower bound, or an estimate', async () => {
    const o = await db.arbiter.queue(Q).jobs.overview({ cap: CAP });
    expect(Object.keys(o).sort()).toEqual(
      ['claimable', 'dead', 'groups', 'inFlight', 'oldestClaimableAgeSeconds', 'total'].sort(),
    );
    expect(o.inFlight).toEqual({ value: IN_FLIGHT, exact: true, kind: 'exact' });
    expect(o.claimable).toEqual({ value: CAP, exact: false, kind: 'atLeast' });
    // Past the cap, totals come from the planner's statistics (ANALYZE ran): close to the truth.
    expect(o.total.kind).toBe('estimate');
    expect(o.total.exact).toBe(false);
    expect(o.total.value).toBeGreaterThan(TOTAL * 0.8);
    expect(o.total.value).toBeLessThan(TOTAL * 1.2);
    expect(o.dead.kind).toBe('estimate');
    expect(o.dead.value).toBeGreaterThan(16_000);
    expect(o.dead.value).toBeLessThan(24_000);
    expect(o.groups).toEqual({ value: 3000 + 2000 + 1500 + 20, exact: false, kind: 'estimate' });
    // The oldest claimable job is one of the priority -1 jobs, due 10 minutes ago (read in its level's range).
    expect(o.oldestClaimableAgeSeconds).toBeGreaterThanOrEqual(600);
    expect(o.oldestClaimableAgeSeconds).toBeLessThan(900);

    // With a cap above every figure, everything is exact and agrees with full scans.
    const exact = await db.arbiter.queue(Q).jobs.overview({ cap: 100_000 });
    const stats = await db.arbiter.queue(Q).jobs.stats();
    expect(stats.total).toBe(TOTAL);
    for (const k of ['total', 'inFlight', 'dead', 'groups'] as const) {
      expect(exact[k], k).toEqual({ value: stats[k], exact: true, kind: 'exact' });
    }
    const ref = await claimableByScan(Q);
    // 300 + 2000 + 5000 + 200 ungrouped (not the 30 exhausted), one head per ready group (not the busy ones).
    expect(ref.n).toBe(300 + 2000 + 5000 + 200 + 2000 + 1500);
    expect(exact.claimable).toEqual({ value: ref.n, exact: true, kind: 'exact' });
    expect(exact.oldestClaimableAgeSeconds).toBeCloseTo((Date.now() - ref.oldest!.getTime()) / 1000, -1);
  });

  it('matches full scans exactly on a small queue in every state', async () => {
    const q = await db.arbiter.createQueue('small');
    const empty = await q.jobs.overview();
    expect(empty.claimable).toEqual({ value: 0, exact: true, kind: 'exact' });
    expect(empty.oldestClaimableAgeSeconds).toBeNull();
    await q.enqueueMany([
      { payload: 1 },
      { payload: 2, groupKey: 'a' },
      { payload: 3, groupKey: 'a' },
      { payload: 6, groupKey: 'b' },
      { payload: 7, groupKey: 'b' },
      { payload: 8, groupKey: 'c', priority: 4 },
      { payload: 9, priority: 2 },
    ]);
    await q.enqueue(4, { delayMs: 3_600_000 });
    await q.enqueue(5, { suspended: true });
    await q.enqueue(10, { suspended: true, groupKey: 'd' });
    const [a, b] = await q.claim({ limit: 2 });
    await q.retry(a!, { delayMs: 3_600_000, error: 'x' });
    await q.dlq.move(b!, 'boom');
    const running = await q.claim({ limit: 1 });
    expect(running).toHaveLength(1);
    const o = await q.jobs.overview();
    const s = await q.jobs.stats();
    expect(s).toMatchObject({ inFlight: 1, retrying: 1, scheduled: 1, suspended: 2, dead: 1 });
    for (const k of ['total', 'inFlight', 'dead', 'groups'] as const) {
      expect(o[k], k).toEqual({ value: s[k], exact: true, kind: 'exact' });
    }
    const ref = await claimableByScan('small');
    expect(o.claimable).toEqual({ value: ref.n, exact: true, kind: 'exact' });
    // Grouped jobs count once per ready group: fewer than stats()' every ready job.
    expect(o.claimable.value).toBeLessThan(s.ready);
    expect(o.oldestClaimableAgeSeconds === null).toBe(ref.oldest === null);
  });

  it("inside the caller's transaction, leaves the caller's planner settings as they were", async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_sort = on');
      const inTx = new Arbiter({ executor: client, schema: db.schema });
      const o = await inTx.queue('small').jobs.overview();
      expect(o.total.kind).toBe('exact');
      const { rows } = await client.query(
        `SELECT current_setting('enable_sort') AS s, current_setting('enable_bitmapscan') AS b`,
      );
      expect(rows[0]).toEqual({ s: 'on', b: 'on' });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });

  it('validates the cap', async () => {
    await expect(db.arbiter.queue(Q).jobs.overview({ cap: 0 })).rejects.toMatchObject({
      field: 'options.cap',
    });
    await expect(db.arbiter.queue(Q).jobs.overview({ cap: 1.5 })).rejects.toMatchObject({
      field: 'options.cap',
    });
    await expect(db.arbiter.queue('nope').jobs.overview()).rejects.toMatchObject({ code: 'QUEUE_NOT_FOUND' });
  });

  it('OverviewReader serves one reading per cache period and shares a reading in progress', async () => {
    const q = await db.arbiter.createQueue('cached');
    const reader = new OverviewReader(db.arbiter, { cacheMs: 60_000, cap: CAP });
    // One reading (the same generatedAt instant) for concurrent callers; each answer reads `paused` fresh.
    const [r1, r2] = await Promise.all([reader.read(), reader.read()]);
    expect(r2.generatedAt).toBe(r1.generatedAt);
    expect(r2).toEqual(r1);
    const before = r1.queues.find((x) => x.name === 'cached')!;
    expect(before.claimable.value).toBe(0);
    await q.enqueue({ n: 1 });
    const r3 = await reader.read();
    expect(r3.generatedAt).toBe(r1.generatedAt); // still cached: the new job is not seen
    expect(r3.queues.find((x) => x.name === 'cached')!.claimable.value).toBe(0);
    const fresh = new OverviewReader(db.arbiter, { cacheMs: 0, cap: CAP });
    const r4 = await fresh.read();
    expect(r4.queues.find((x) => x.name === 'cached')!.claimable).toEqual({
      value: 1,
      exact: true,
      kind: 'exact',
    });
    expect(r4.generatedAt.getTime()).toBeGreaterThanOrEqual(r1.generatedAt.getTime());
    expect((await fresh.read()) === r4).toBe(false);
    expect(r4.queues.map((x) => x.name)).toEqual(['big', 'cached', 'small']);
  });
});
