import { describe, expect, it } from 'vitest';
import { FENCE } from '../../src/db/queries/fence.js';
import { queueTables } from '../../src/db/sql.js';
import { useTestDb } from '../support/db.js';

// Statistics gathered while nothing is leased make the partial leased index look empty. A fence written
// as a plain `leased_until IS NOT NULL` then lets the planner walk every leased row for each acked id.
// The fence must reach its row through the primary key whatever the statistics say.
const t = useTestDb();

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const indexesUsed = (n: PlanNode): string[] => [
  ...(n['Index Name'] ? [n['Index Name']] : []),
  ...(n.Plans ?? []).flatMap(indexesUsed),
];

describe('fenced writes and stale statistics', () => {
  it('reach the row through the primary key, never the leased index', async () => {
    const q = await t.arbiter.createQueue('fp_q');
    await q.enqueueManyCount(Array.from({ length: 5_000 }, (_, n) => ({ payload: { n } })));
    await t.pool.query(`ANALYZE "${t.schema}".fp_q`); // nothing leased yet
    const jobs = await q.claim({ limit: 2_000, leaseMs: 60_000 });
    const tables = queueTables(t.schema, 'fp_q');
    const job = jobs[1_000]!;
    for (const sql of [
      `DELETE FROM ${tables.jobs} j WHERE ${FENCE}`,
      `UPDATE ${tables.jobs} j SET run_at = now() WHERE ${FENCE}`,
    ]) {
      const { rows } = await t.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (FORMAT JSON) ${sql}`,
        [job.id, job.attempts],
      );
      const used = indexesUsed(rows[0]!['QUERY PLAN'][0].Plan);
      expect(used, sql).toContain('fp_q_pkey');
      expect(used, sql).not.toContain('fp_q_leased_idx');
    }
    // And the bulk ack, through the library: all 2,000 acked in one statement.
    expect((await q.ackBulk(jobs)).length).toBe(2_000);
  });
});
