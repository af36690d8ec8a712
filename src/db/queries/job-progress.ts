import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { FENCE, fencedBy } from './fence.js';
import { finalReportSql, type ProgressWrite } from './job-final-reports.js';

// What a running job reports (migration 0009): one schema-wide row per job, keyed by queue and job id.

/** Log lines kept per job (the newest; older lines are dropped as new ones arrive). */
export const MAX_LOG_LINES = 200;

export const progressTable = (t: QueueTables): string => `${quoteIdent(t.schema)}._job_progress`;

/** One log line as stored: when (epoch ms), by which attempt, what. */
export interface LogLine {
  at: number;
  attempt: number;
  message: string;
}

export type { ProgressWrite } from './job-final-reports.js';

/**
 * The merge of a newer report `n` over an older one `o` (each a row of attempt, progress, meta and logs as
 * jsonb; `o` may be a row of nulls, and `n.logs` null or `[]` when it adds no line): a new attempt resets
 * the progress, metadata patches merge, log lines are appended and the newest MAX_LOG_LINES kept. The one
 * rule for the upserts of report rows and for the reads that merge a job's last report into its row.
 */
function mergedSql(o: string, n: string): { progress: string; meta: string; logs: string } {
  return {
    progress: `CASE WHEN ${n}.progress IS NOT NULL THEN ${n}.progress WHEN ${o}.attempt = ${n}.attempt THEN ${o}.progress END`,
    meta: `CASE WHEN ${n}.meta IS NULL THEN ${o}.meta ELSE coalesce(${o}.meta, '{}'::jsonb) || ${n}.meta END`,
    logs: `CASE WHEN coalesce(${n}.logs, '[]'::jsonb) = '[]'::jsonb THEN ${o}.logs
                ELSE jsonb_path_query_array(coalesce(${o}.logs, '[]'::jsonb) || ${n}.logs, '$[last - ${MAX_LOG_LINES - 1} to last]') END`,
  };
}

/**
 * The upsert of report rows from `source` (a SELECT of queue, job_id, attempt, progress, meta, logs,
 * updated_at), merged into the rows already there (mergedSql). Shared by the fenced report writes.
 */
export function progressUpsertSql(t: QueueTables, source: string): string {
  const m = mergedSql('p', 'EXCLUDED');
  return `INSERT INTO ${progressTable(t)} AS p (queue, job_id, attempt, progress, meta, logs, updated_at)
     ${source}
     ON CONFLICT (queue, job_id) DO UPDATE SET
       progress = ${m.progress},
       meta = ${m.meta},
       logs = ${m.logs},
       attempt = EXCLUDED.attempt,
       updated_at = now()`;
}

/**
 * Writes a running job's report, fenced: only while the job is still held by this attempt. The job row
 * is read FOR SHARE, so a completion of the same job waits for this write instead of racing it. Merged
 * into the job's row (mergedSql). Returns false when fenced off (the attempt no longer holds the job).
 */
export async function jobProgressWrite(db: Executor, t: QueueTables, w: ProgressWrite): Promise<boolean> {
  const { rowCount } = await db.query(
    progressUpsertSql(
      t,
      `SELECT $3, j.id, j.attempts, $4::jsonb, $5::jsonb, coalesce($6::jsonb, '[]'::jsonb), now()
         FROM ${t.jobs} j WHERE ${FENCE}
          FOR SHARE OF j`,
    ),
    [w.id, w.attempts, t.queue, w.progress, w.meta, w.logs],
    `${t.statementPrefix}worker:progress`,
  );
  return rowCount > 0;
}

/** The bound arrays of many report writes: ids, attempts, progress, meta, logs (in that order). */
export function progressArrays(writes: readonly ProgressWrite[]): unknown[] {
  return [
    writes.map((w) => w.id),
    writes.map((w) => w.attempts),
    writes.map((w) => w.progress),
    writes.map((w) => w.meta),
    writes.map((w) => w.logs),
  ];
}

/**
 * jobProgressWrite for many jobs in one statement (at most one write per job). Rows are locked in id
 * order. Returns the ids written; the others were fenced off. Committed without waiting for the WAL
 * flush (synchronous_commit off for this transaction only): a crash may lose the last instants of
 * reports, never a job's state, and the job's completion, written after, flushes them anyway.
 */
export async function jobProgressWriteMany(
  db: Executor,
  t: QueueTables,
  writes: readonly ProgressWrite[],
): Promise<Set<string>> {
  if (writes.length === 0) return new Set();
  const { rows } = await db.query<{ job_id: string }>(
    `WITH async AS (SELECT set_config('synchronous_commit', 'off', true))
     ${progressUpsertSql(
       t,
       `SELECT $1, j.id, j.attempts, u.progress::jsonb, u.meta::jsonb, coalesce(u.logs::jsonb, '[]'::jsonb), now()
          FROM async,
               unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[]) AS u(id, attempts, progress, meta, logs)
          JOIN ${t.jobs} j ON ${fencedBy('j', 'u')}
         ORDER BY j.id
           FOR SHARE OF j`,
     )}
     RETURNING job_id`,
    [t.queue, ...progressArrays(writes)],
    `${t.statementPrefix}worker:progress-many`,
  );
  return new Set(rows.map((r) => r.job_id));
}

export interface ProgressRow {
  attempt: number;
  progress: unknown;
  meta: Record<string, unknown> | null;
  logs: LogLine[];
  updated_at: Date;
}

/**
 * A job's last report, or null when it never reported (or retention pruned it): its row, with the last
 * report its ack carried (a shared row, see job-final-reports.ts) merged over it. Two index probes.
 */
export async function jobProgressGet(db: Executor, t: QueueTables, id: string): Promise<ProgressRow | null> {
  const m = mergedSql('o', 'n');
  const { rows } = await db.query<ProgressRow>(
    `WITH o AS (SELECT attempt, progress, meta, logs, updated_at FROM ${progressTable(t)} WHERE queue = $1 AND job_id = $2),
     n AS (${finalReportSql(t)})
     SELECT o.attempt, o.progress, o.meta, o.logs, o.updated_at FROM o WHERE NOT EXISTS (SELECT 1 FROM n)
     UNION ALL
     SELECT n.attempt, ${m.progress}, ${m.meta}, coalesce(${m.logs}, '[]'::jsonb), n.updated_at
       FROM n LEFT JOIN o ON true`,
    [t.queue, id],
  );
  return rows[0] ?? null;
}

/** Deletes a queue's report rows last written longer ago than `maxAgeMs` (retention). Returns how many. */
export async function jobProgressPruneByAge(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const table = progressTable(t);
  const { rowCount } = await db.query(
    `DELETE FROM ${table} p WHERE p.queue = $1 AND p.job_id IN (
       SELECT x.job_id FROM ${table} x
        WHERE x.queue = $1 AND x.updated_at < now() - $2 * interval '1 millisecond'
        ORDER BY x.updated_at LIMIT $3)`,
    [t.queue, maxAgeMs, limit],
  );
  return rowCount;
}
