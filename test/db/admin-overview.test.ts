import { beforeAll, describe, expect, it } from 'vitest';
import { OverviewReader } from '../../src/admin/overview.js';
import { queueOverviewSql } from '../../src/db/queries/overview.js';
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

/** Every node of a plan with the rows it touched: returned, plus those it read and threw away. */
function nodes(plan: PlanNode, out: { node: string; read: number }[] = []) {
  const read =
    plan['Actual Rows'] * plan['Actual Loops'] +
    (plan['Rows Removed by Filter'] ?? 0) +
    (plan['Rows Removed by Index Recheck'] ?? 0) +
    (plan['Rows Removed by Join Filter'] ?? 0);
  const name = [plan['Node Type'], plan['Index Name'] ?? plan['Relation Name']].filter(Boolean).join(' on ');
  out.push({ node: name, read });
  for (const p of plan.Plans ?? []) nodes(p, out);
  return out;
}

describe('queue.jobs.overview: bounded counts', () => {
  const CAP = 1000;
  const IN_FLIGHT = 40;
  const Q = 'big';

  beforeAll(async () => {
    await db.arbiter.createQueue(Q);
    const t = `"${db.schema}"."${Q}"`;
    // Physical order chosen to hurt a sequential scan: the rarest states come last.
    await db.pool.query(
      `INSERT INTO ${t} (payload, run_at) SELECT jsonb_build_object('n', n), now() + interval '1 hour'
       FROM generate_series(1, 30000) n`,
    ); // scheduled
    await db.pool.query(
      `INSERT INTO ${t} (payload, attempts, run_at, last_error) SELECT '{}', 1, now() + interval '1 hour', 'e'
       FROM generate_series(1, 15000)`,
    ); // retrying
    await db.pool.query(
      `INSERT INTO ${t} (payload, suspended) SELECT '{}', true FROM generate_series(1, 8000)`,
    );
    await db.pool.query(`INSERT INTO ${t} (payload) SELECT '{}' FROM generate_series(1, 5000)`); // ready
    await db.pool.query(
      `INSERT INTO ${t} (payload, group_key) SELECT '{}', 'g' || (n % 1500) FROM generate_series(1, 3000) n`,
    ); // ready, grouped
    await db.pool.query(
      `INSERT INTO ${t} (payload, attempts, leased_until, run_at, claimed_at)
       SELECT '{}', 1, now() + interval '1 hour', now() + interval '1 hour', now() FROM generate_series(1, ${IN_FLIGHT})`,
    ); // in flight
    await db.pool.query(
      `INSERT INTO "${db.schema}"."${Q}_dlq" (job_id, payload, priority, attempts, max_attempts, is_rollup, created_at)
       SELECT n, '{}', 0, 25, 25, false, now() FROM generate_series(1, 20000) n`,
    );
    await db.pool.query(`ANALYZE ${t}`);
    await db.pool.query(`ANALYZE "${db.schema}"."${Q}_dlq"`);
    await db.pool.query(`ANALYZE "${db.schema}"."${Q}_groups"`);
  }, 120_000);

  it(`no plan node reads more than cap+1 rows (plus the ${IN_FLIGHT} in-flight rows a range may skip)`, async () => {
    const { text, values } = queueOverviewSql(queueTables(db.schema, Q), CAP);
    const { rows } = await db.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
      values,
    );
    const all = nodes(rows[0]!['QUERY PLAN'][0].Plan);
    expect(all.length).toBeGreaterThan(10);
    const over = all.filter((n) => n.read > CAP + 1 + IN_FLIGHT);
    expect(over, JSON.stringify(all, null, 1)).toEqual([]);
    // The per-state ranges are index scans, never sequential scans of the job table.
    const seqOnJobs = all.filter((n) => n.node === `Seq Scan on ${Q}` && n.read > CAP + 1);
    expect(seqOnJobs).toEqual([]);
  });

  it('stays bounded under a generic plan too (a prepared statement reused by a driver or pooler)', async () => {
    const { text, values } = queueOverviewSql(queueTables(db.schema, Q), CAP);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL plan_cache_mode = force_generic_plan`);
      await client.query(`SET LOCAL search_path = "${db.schema}"`);
      await client.query(`PREPARE overview_generic(int, text, text, text) AS ${text}`);
      const lits = values.map((v) =>
        typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`,
      );
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE overview_generic(${lits.join(', ')})`,
      );
      const all = nodes(rows[0]!['QUERY PLAN'][0].Plan);
      const over = all.filter((n) => n.read > CAP + 1 + IN_FLIGHT);
      expect(over, JSON.stringify(all, null, 1)).toEqual([]);
    } finally {
      await client.query('ROLLBACK');
      await client.query('DEALLOCATE overview_generic'); // PREPARE outlives the transaction
      client.release();
    }
  });

  it('reports each figure as exact, a lower bound, or an estimate', async () => {
    const o = await db.arbiter.queue(Q).jobs.overview({ cap: CAP });
    expect(o.inFlight).toEqual({ value: IN_FLIGHT, exact: true, kind: 'exact' });
    for (const k of ['ready', 'scheduled', 'retrying', 'suspended'] as const) {
      expect(o[k], k).toEqual({ value: CAP, exact: false, kind: 'atLeast' });
    }
    // Past the cap, totals come from the planner's statistics (ANALYZE ran): close to the truth.
    expect(o.total.kind).toBe('estimate');
    expect(o.total.exact).toBe(false);
    expect(o.total.value).toBeGreaterThan(61_040 * 0.8);
    expect(o.total.value).toBeLessThan(61_040 * 1.2);
    expect(o.dead.kind).toBe('estimate');
    expect(o.dead.value).toBeGreaterThan(16_000);
    expect(o.dead.value).toBeLessThan(24_000);
    expect(o.groups).toEqual({ value: 1500, exact: false, kind: 'estimate' });
    expect(o.oldestReadyAgeSeconds).not.toBeNull();

    // With a cap above every figure, everything is exact and agrees with the full-scan stats().
    const exact = await db.arbiter.queue(Q).jobs.overview({ cap: 100_000 });
    const stats = await db.arbiter.queue(Q).jobs.stats();
    for (const k of [
      'total',
      'ready',
      'inFlight',
      'scheduled',
      'retrying',
      'suspended',
      'dead',
      'groups',
    ] as const) {
      expect(exact[k], k).toEqual({ value: stats[k], exact: true, kind: 'exact' });
    }
  });

  it('matches stats() exactly on a small queue in every state', async () => {
    const q = await db.arbiter.createQueue('small');
    await q.enqueueMany([{ payload: 1 }, { payload: 2, groupKey: 'a' }, { payload: 3, groupKey: 'a' }]);
    await q.enqueue(4, { delayMs: 3_600_000 });
    await q.enqueue(5, { suspended: true });
    const [a, b] = await q.claim({ limit: 2 });
    await q.retry(a!, { delayMs: 3_600_000, error: 'x' });
    await q.dlq.move(b!, 'boom');
    const [, running] = await Promise.all([Promise.resolve(), q.claim({ limit: 1 })]);
    expect(running).toHaveLength(1);
    const o = await q.jobs.overview();
    const s = await q.jobs.stats();
    expect(s).toMatchObject({ inFlight: 1, retrying: 1, scheduled: 1, suspended: 1, dead: 1 });
    for (const k of [
      'total',
      'ready',
      'inFlight',
      'scheduled',
      'retrying',
      'suspended',
      'dead',
      'groups',
    ] as const) {
      expect(o[k], k).toEqual({ value: s[k], exact: true, kind: 'exact' });
    }
    expect(o.oldestReadyAgeSeconds === null).toBe(s.oldestReadyAgeSeconds === null);
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
    const [r1, r2] = await Promise.all([reader.read(), reader.read()]);
    expect(r2).toBe(r1);
    const before = r1.queues.find((x) => x.name === 'cached')!;
    expect(before.ready.value).toBe(0);
    await q.enqueue({ n: 1 });
    const r3 = await reader.read();
    expect(r3).toBe(r1); // still cached: the new job is not seen
    const fresh = new OverviewReader(db.arbiter, { cacheMs: 0, cap: CAP });
    const r4 = await fresh.read();
    expect(r4.queues.find((x) => x.name === 'cached')!.ready).toEqual({
      value: 1,
      exact: true,
      kind: 'exact',
    });
    expect(r4.generatedAt.getTime()).toBeGreaterThanOrEqual(r1.generatedAt.getTime());
    expect((await fresh.read()) === r4).toBe(false);
    expect(r4.queues.map((x) => x.name)).toEqual(['big', 'cached', 'small']);
  });
});
