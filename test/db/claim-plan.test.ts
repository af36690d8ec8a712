import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { prepareWorkerSession } from '../../src/db/dedicated.js';
import { claimSql } from '../../src/db/queries/job-claim.js';
import { queueTables } from '../../src/db/sql.js';
import { useTestDb } from '../support/db.js';

// Workers claim on connections set up by prepareWorkerSession: generic plans, made once without seeing
// the LIMIT or any other parameter, and kept while statistics stand still. Whether the plan was made on
// an empty queue (a worker started before the backlog arrived, statistics not yet refreshed) or on the
// analyzed backlog, the claim must reach jobs only through index ranges that stop at the limit.
const t = useTestDb();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

const SHAPES = [
  { name: 'claim', onePerGroup: true, perGroup: 1, groups: 400, claims: 400 },
  // Up to 5 jobs from each of 40 groups; the groups hold one job each.
  { name: 'batched claim', onePerGroup: false, perGroup: 5, groups: 40, claims: 40 },
] as const;

/** 20,000 groups of one job, ungrouped jobs over three priority levels, a scheduled tail, suspended jobs. */
async function seed(queue: string, backlog: number): Promise<void> {
  const q = t.arbiter.queue(queue);
  for (let i = 0; i < backlog; i += 1_000) {
    await q.enqueueManyCount(
      Array.from({ length: 1_000 }, (_, k) => {
        const n = i + k;
        if (n % 2 === 0) return { payload: { n }, groupKey: `g${n}` };
        if (n % 10 === 1) return { payload: { n }, delayMs: 3_600_000 };
        if (n % 10 === 3) return { payload: { n }, suspended: true };
        return { payload: { n }, priority: n % 3 };
      }),
    );
  }
}

/** Runs each claim shape's prepared statement in a rolled-back transaction; returns the plans. */
async function explainClaims(
  client: pg.PoolClient,
  queue: string,
): Promise<Map<string, { nodes: PlanNode[]; jit: boolean }>> {
  const plans = new Map<string, { nodes: PlanNode[]; jit: boolean }>();
  for (const [i, s] of SHAPES.entries()) {
    await client.query('BEGIN');
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; JIT?: unknown }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim_${i}(${s.perGroup}, ${s.groups}, 30000, 'w', '${queue}')`,
    );
    await client.query('ROLLBACK');
    const out = rows[0]!['QUERY PLAN'][0];
    plans.set(s.name, { nodes: nodes(out.Plan), jit: out.JIT !== undefined });
  }
  return plans;
}

describe('the claim under a generic plan', () => {
  for (const plannedOn of ['an empty queue', 'the analyzed backlog'] as const) {
    it(`planned on ${plannedOn}, reads index ranges bounded by the limit on a 40k backlog`, async () => {
      const queue = plannedOn === 'an empty queue' ? 'cp_empty' : 'cp_full';
      await t.arbiter.createQueue(queue);
      const tables = queueTables(t.schema, queue);
      const client = await t.pool.connect();
      try {
        await prepareWorkerSession(client);
        for (const [i, s] of SHAPES.entries())
          await client.query(`PREPARE claim_${i} AS ${claimSql(tables, s.onePerGroup, !s.onePerGroup)}`);
        if (plannedOn === 'an empty queue') {
          await explainClaims(client, queue); // the generic plans are made now and kept
          await seed(queue, 40_000);
        } else {
          await seed(queue, 40_000);
          await t.pool.query(`ANALYZE ${tables.jobs}`);
          await t.pool.query(`ANALYZE ${tables.groups}`);
        }
        for (const [name, { nodes: plan, jit }] of await explainClaims(client, queue)) {
          // A generic plan's cost can pass the JIT thresholds; compiling on every call took 1.5 s.
          expect(jit, `${name}: JIT`).toBe(false);
          const s = SHAPES.find((x) => x.name === name)!;
          const limit = s.perGroup * s.groups;
          const onTables = plan.filter((n) => n['Relation Name']?.startsWith(queue));
          expect(
            onTables.map((n) => `${n['Node Type']} ${n['Relation Name']}`),
            name,
          ).not.toContainEqual(expect.stringMatching(/^Seq Scan/));
          // No node on a queue table produces more than the claim asks for, plus one probe per priority
          // level and group: with 20,000 groups, reading them all (to lock or to pick) fails this.
          for (const n of onTables) {
            expect(
              (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1),
              `${name}: ${n['Node Type']} on ${n['Relation Name']}`,
            ).toBeLessThanOrEqual(limit + 400);
          }
          // A short claim adds one row: when the next scheduled job (the delayed tail) is due.
          expect(plan[0]!['Actual Rows'], name).toBe(s.claims + (s.claims < limit ? 1 : 0));
        }
      } finally {
        client.release(true);
      }
    });
  }
});
