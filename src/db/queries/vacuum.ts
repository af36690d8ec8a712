import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

export interface VacuumCandidate {
  queue: string;
  table: string;
  deadTuples: number;
}

/**
 * Job and group tables of `queues` whose dead rows have piled up: at least `minDead`, and at least
 * `ratio` × their live rows, with no vacuum (manual or automatic) in the last `quietMs`. Every claim and
 * every completion leaves a dead row behind, and index scans of the claim wade through them until a
 * vacuum removes them, so a queue table that is not vacuumed slows down by the minute.
 */
export async function vacuumCandidates(
  db: Executor,
  schema: string,
  queues: readonly string[],
  minDead: number,
  ratio: number,
  quietMs: number,
): Promise<VacuumCandidate[]> {
  const { rows } = await db.query<{ queue: string; table: string; dead: string }>(
    `SELECT q.name AS queue, s.relname::text AS table, s.n_dead_tup::text AS dead
     FROM unnest($2::text[]) AS q(name)
     JOIN pg_stat_user_tables s ON s.schemaname = $1 AND s.relname IN (q.name, q.name || '_groups')
     WHERE s.n_dead_tup >= greatest($3::bigint, $4::float8 * s.n_live_tup)
       AND coalesce(greatest(s.last_vacuum, s.last_autovacuum), '-infinity') < now() - $5::bigint * interval '1 millisecond'
     ORDER BY s.n_dead_tup DESC`,
    [schema, [...queues], minDead, ratio, quietMs],
  );
  return rows.map((r) => ({ queue: r.queue, table: r.table, deadTuples: Number(r.dead) }));
}

/** The VACUUM statement for one of a schema's tables (it cannot run inside a transaction). */
export function vacuumStatement(schema: string, table: string): string {
  return `VACUUM (ANALYZE) ${quoteIdent(schema)}.${quoteIdent(table)}`;
}
