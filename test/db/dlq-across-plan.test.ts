import { describe, expect, it } from 'vitest';
import { dlqListAcrossSql } from '../../src/db/queries/dlq-across.js';
import { useTestDb } from '../support/db.js';

// The dashboard's dead-letter view polls this listing: on tables of any size each page must read about a
// page of each queue's failed-time index, never a whole table.
const t = useTestDb();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

const PER_QUEUE = 20_000;
const QUEUES = ['pa', 'pb', 'p_c'];

describe('dead letters across queues: plan', () => {
  it('reads at most a page (+1) of each queue’s index, deep pages included', async () => {
    for (const name of QUEUES) {
      await t.arbiter.createQueue(name);
      await t.pool.query(
        `INSERT INTO "${t.schema}"."${name}_dlq" (job_id, payload, group_key, priority, attempts, max_attempts,
           last_error, is_rollup, created_at, failed_at)
         SELECT g, jsonb_build_object('n', g), 'g' || (g % 50), 0, 3, 3, 'boom', false, now(),
                now() - g * interval '1 second'
         FROM generate_series(1, $1::int) g`,
        [PER_QUEUE],
      );
      await t.pool.query(`ANALYZE "${t.schema}"."${name}_dlq"`);
    }
    const limit = 51;
    const first = await t.arbiter.deadLetters.list({ limit: limit - 1 });
    let cursor = first.nextCursor!;
    for (let i = 0; i < 40; i++)
      cursor = (await t.arbiter.deadLetters.list({ limit: 50, cursor })).nextCursor!;
    const [failedAt, queue, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()).slice(
      1,
    ) as string[];

    for (const after of [null, { failedAt: failedAt!, queue: queue!, id: id! }]) {
      const { text, values } = dlqListAcrossSql(t.schema, QUEUES, {}, after, limit);
      const { rows } = await t.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      );
      const plan = nodes(rows[0]!['QUERY PLAN'][0].Plan);
      const scans = plan.filter((n) => n['Relation Name']?.endsWith('_dlq'));
      expect(scans).toHaveLength(QUEUES.length);
      for (const s of scans) {
        expect(s['Node Type'], JSON.stringify(s)).toMatch(/Index Scan/);
        // Rows read: those returned and those a filter threw away (a keyset that is not an index range).
        const read = (s['Actual Rows']! + (s['Rows Removed by Filter'] ?? 0)) * (s['Actual Loops'] ?? 1);
        expect(read, JSON.stringify(s)).toBeLessThanOrEqual(limit + 1);
      }
    }
  });
});
