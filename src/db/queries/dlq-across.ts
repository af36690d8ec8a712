import type { FilterSpec } from '../../core/job-filter.js';
import type { Executor } from '../executor.js';
import { dlqColumns, type DeadJobRow } from '../rows.js';
import { queueTables } from '../sql.js';
import { SqlParams, filterWhere } from './filters.js';

// Dead letters of many queues as one listing, most recently failed first. Each queue's part is a keyset
// range of its <q>_dlq_failed_idx (failed_at DESC, id DESC) cut at the page size, so a page reads at most
// (page size + 1) index entries per queue on an unfiltered listing, whatever the tables hold; the parts are
// merged in one statement. Ties on failed_at are ordered by queue name (byte order) then id.

/** Where a page stopped: the last row's failed_at (ISO text with microseconds), queue and dead-letter id. */
export interface DlqAcrossKeyset {
  failedAt: string;
  queue: string;
  id: string;
}

export type DeadJobAcrossRow = DeadJobRow & { queue: string; failed_at_key: string };

/** Byte order, as `COLLATE "C"` sorts the queue names in SQL. */
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The part of one queue's listing after the keyset, given the queue's place relative to the cursor's. */
function keysetPart(queue: string, after: DlqAcrossKeyset | null, p: SqlParams): string {
  if (after === null) return '';
  const at = `${p.add(after.failedAt)}::timestamptz`;
  const order = byteOrder(queue, after.queue);
  if (order > 0) return ` AND d.failed_at < ${at}`;
  if (order < 0) return ` AND d.failed_at <= ${at}`;
  return ` AND (d.failed_at, d.id) < (${at}, ${p.add(after.id)}::bigint)`;
}

/** The statement behind dlqListAcross (text and values), exposed so a test can EXPLAIN exactly it. */
export function dlqListAcrossSql(
  schema: string,
  queues: readonly string[],
  spec: FilterSpec,
  after: DlqAcrossKeyset | null,
  limit: number,
): { text: string; values: unknown[] } {
  const p = new SqlParams();
  const n = p.add(limit);
  const parts = queues.map((queue) => {
    const t = queueTables(schema, queue);
    const where = filterWhere(t, 'dlq', spec, 'd', p);
    return `(SELECT ${p.add(queue)}::text AS queue, ${dlqColumns('d')},
       to_char(d.failed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS failed_at_key
     FROM ${t.dlq} d WHERE ${where}${keysetPart(queue, after, p)}
     ORDER BY d.failed_at DESC, d.id DESC LIMIT ${n}::int)`;
  });
  const text = `SELECT * FROM (${parts.join('\nUNION ALL\n')}) x
     ORDER BY x.failed_at DESC, x.queue COLLATE "C" DESC, x.id DESC LIMIT ${n}::int`;
  return { text, values: p.values };
}

export async function dlqListAcross(
  db: Executor,
  schema: string,
  queues: readonly string[],
  spec: FilterSpec,
  after: DlqAcrossKeyset | null,
  limit: number,
): Promise<DeadJobAcrossRow[]> {
  if (queues.length === 0) return [];
  const { text, values } = dlqListAcrossSql(schema, queues, spec, after, limit);
  const { rows } = await db.query<DeadJobAcrossRow>(text, values);
  return rows;
}

/** Per queue: dead letters matching `spec`, counted up to `cap` + 1 (so "more than cap" is visible). */
export async function dlqCountAcross(
  db: Executor,
  schema: string,
  queues: readonly string[],
  spec: FilterSpec,
  cap: number,
): Promise<Map<string, number>> {
  if (queues.length === 0) return new Map();
  const p = new SqlParams();
  const limit = p.add(cap + 1);
  const parts = queues.map((queue) => {
    const t = queueTables(schema, queue);
    return `SELECT ${p.add(queue)}::text AS queue,
       (SELECT count(*)::int FROM (SELECT 1 FROM ${t.dlq} d WHERE ${filterWhere(t, 'dlq', spec, 'd', p)}
          LIMIT ${limit}::int) c) AS n`;
  });
  const { rows } = await db.query<{ queue: string; n: number }>(parts.join('\nUNION ALL\n'), p.values);
  return new Map(rows.map((r) => [r.queue, r.n]));
}
