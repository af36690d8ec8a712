import type { Executor } from '../executor.js';
import { queueTables, quoteIdent } from '../sql.js';
import { SqlParams } from './filters.js';

// Search across queues (live jobs, kept history, dead letters). By id: a primary-key (or job_id index)
// probe per table. By payload or error text: an explicit bounded scan, the newest `scan` rows of each table
// (a backward walk of its primary key), filtered; nothing else is read.

export interface SearchQuery {
  /** A job id: index probes only. */
  id?: string;
  /** JSON the payload must contain (@>). */
  payload?: string;
  /** Text the last error contains (case-insensitive). */
  error?: string;
}

export interface SearchRow {
  queue: string;
  source: 'job' | 'history' | 'dead-letter';
  /** The job's id (a dead letter's original job id). */
  id: string;
  /** The dead letter's own id, for its page. */
  dead_letter_id: string | null;
  payload: unknown;
  last_error: string | null;
  /** Created (live job), finished (history) or failed (dead letter). */
  at: Date;
}

/** The queues of a schema with whether each has a history table (kept jobs). */
export async function searchableQueues(
  db: Executor,
  schema: string,
  only: string | null,
): Promise<{ name: string; history: boolean }[]> {
  const { rows } = await db.query<{ name: string; history: boolean }>(
    `SELECT q.name, to_regclass(format('%I.%I', $1::text, q.name || '_history')) IS NOT NULL AS history
       FROM ${quoteIdent(schema)}._queues q WHERE $2::text IS NULL OR q.name = $2 ORDER BY q.name`,
    [schema, only],
  );
  return rows;
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** One statement over `queues`: the newest matches first, at most `limit`. */
export async function searchQueues(
  db: Executor,
  schema: string,
  queues: readonly { name: string; history: boolean }[],
  q: SearchQuery,
  scan: number,
  limit: number,
): Promise<SearchRow[]> {
  if (queues.length === 0) return [];
  const p = new SqlParams();
  const lim = p.add(limit);
  const id = q.id !== undefined ? p.add(q.id) : null;
  const bound = id === null ? p.add(scan) : null;
  const conds: string[] = [];
  if (q.payload !== undefined) conds.push(`x.payload @> ${p.add(q.payload)}::jsonb`);
  if (q.error !== undefined) conds.push(`x.last_error ILIKE ${p.add(`%${escapeLike(q.error)}%`)}`);
  const where = conds.length > 0 ? conds.join(' AND ') : 'true';
  const parts: string[] = [];
  for (const queue of queues) {
    const t = queueTables(schema, queue.name);
    const name = `${p.add(queue.name)}::text`;
    const part = (table: string, source: string, idCol: string, dlqId: string, at: string) =>
      id !== null
        ? `(SELECT ${name} AS queue, '${source}' AS source, x.${idCol}::text AS id, ${dlqId} AS dead_letter_id,
                  x.payload, x.last_error, x.${at} AS at
             FROM ${table} x WHERE x.${idCol} = ${id}::bigint AND ${where} LIMIT ${lim}::int)`
        : `(SELECT ${name} AS queue, '${source}' AS source, x.${idCol}::text AS id, ${dlqId} AS dead_letter_id,
                  x.payload, x.last_error, x.${at} AS at
             FROM (SELECT * FROM ${table} ORDER BY id DESC LIMIT ${bound!}::int) x WHERE ${where}
            ORDER BY x.id DESC LIMIT ${lim}::int)`;
    parts.push(part(t.jobs, 'job', 'id', 'NULL::text', 'created_at'));
    if (queue.history) {
      parts.push(
        part(
          `${quoteIdent(schema)}.${quoteIdent(`${queue.name}_history`)}`,
          'history',
          'id',
          'NULL::text',
          'finished_at',
        ),
      );
    }
    parts.push(part(t.dlq, 'dead-letter', 'job_id', 'x.id::text', 'failed_at'));
  }
  const { rows } = await db.query<SearchRow>(
    `SELECT * FROM (${parts.join('\nUNION ALL\n')}) s ORDER BY s.at DESC LIMIT ${lim}::int`,
    p.values,
  );
  return rows;
}
