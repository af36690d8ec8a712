import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// The last reports of jobs that a plain ack carried (migration 0016): written by the ack's own statement,
// one row per run of ids (job id >> FINAL_REPORT_ID_SHIFT) in that statement, a JSON object of job id →
// report. A job that reports once and returns costs its ack a few dozen bytes of that row instead of a row
// and an index entry of its own. Reads merge a job's entry over its `_job_progress` row (the reports it
// wrote while running), the way an upsert of that row would have.


/** One report to write: a job's (id, attempt) and what it reports, each as JSON text or null. */
export interface ProgressWrite {
  id: string;
  attempts: number;
  /** JSON text of the new progress value, or null to keep the attempt's last one. */
  progress: string | null;
  /** JSON text of a metadata patch (an object merged into the row's), or null. */
  meta: string | null;
  /** JSON text of the log lines to append (an array), or null. */
  logs: string | null;
}

export const finalReportsTable = (t: QueueTables): string => `${quoteIdent(t.schema)}._job_final_reports`;

/** A row holds the reports of jobs whose ids agree but for their last this many bits: at most 256 ids. */
export const FINAL_REPORT_ID_SHIFT = 8;

/**
 * Largest report (as JSON text, in characters) that goes in a shared row; a larger one (long log lines,
 * large metadata) is written to its own `_job_progress` row before the ack instead, as any other
 * outcome's is, so a shared row stays small to read.
 */
export const MAX_SHARED_REPORT_CHARS = 4 * 1024;

/** A shared row is closed once its JSON passes this many characters (a run of ids then takes several). */
const MAX_ROW_CHARS = 64 * 1024;

/** Whether a job's last report goes in a shared row with its ack (see MAX_SHARED_REPORT_CHARS). */
export function isSharedReport(w: ProgressWrite): boolean {
  return (w.progress?.length ?? 0) + (w.meta?.length ?? 0) + (w.logs?.length ?? 0) <= MAX_SHARED_REPORT_CHARS;
}

/** The run of ids a job's id belongs to (its row key). */
function runOf(id: string): number | bigint {
  // Ids below 2^53 divide exactly as numbers, without a BigInt per job.
  return id.length < 16 ? Math.floor(Number(id) / 2 ** FINAL_REPORT_ID_SHIFT) : BigInt(id) >> SHIFT;
}
const SHIFT = BigInt(FINAL_REPORT_ID_SHIFT);

/**
 * The JSON array the ack statement reads its shared rows from: `[[run, {"<id>": {"a": attempt, "p":
 * progress, "m": meta patch, "l": log lines}, …}], …]`, keys left out when empty. Built from the JSON texts
 * the reporter already made, by concatenation: no value is parsed or stringified again.
 */
export function finalReportsParam(writes: readonly ProgressWrite[]): string {
  const runs = new Map<number | bigint, string[]>();
  for (const w of writes) {
    let entry = '"' + w.id + '":{"a":' + w.attempts;
    if (w.progress !== null) entry += ',"p":' + w.progress;
    if (w.meta !== null) entry += ',"m":' + w.meta;
    if (w.logs !== null) entry += ',"l":' + w.logs;
    const run = runOf(w.id);
    const list = runs.get(run);
    if (list === undefined) runs.set(run, [entry + '}']);
    else list.push(entry + '}');
  }
  const rows: string[] = [];
  for (const [run, entries] of runs) {
    // A row is closed once it passes MAX_ROW_CHARS.
    let from = 0;
    let chars = 0;
    for (let i = 0; i < entries.length; i++) {
      chars += entries[i]!.length + 1;
      if (chars > MAX_ROW_CHARS || i === entries.length - 1) {
        rows.push('[' + String(run) + ',{' + entries.slice(from, i + 1).join(',') + '}]');
        from = i + 1;
        chars = 0;
      }
    }
  }
  return '[' + rows.join(',') + ']';
}

/**
 * The CTE (named `reported`) of an ack statement that writes the shared rows of `$param` (finalReportsParam)
 * for the queue `$queue`, keeping only the entries of the ids in CTE `acked`: the ack's fence is the
 * report's (a stale attempt writes neither). `allAcked` is an SQL condition true when every job of the
 * statement was acked: then each row is written as sent, unparsed.
 */
export function finalReportsInsertSql(
  t: QueueTables,
  queue: string,
  param: string,
  allAcked: string,
): string {
  return `reported AS (
       INSERT INTO ${finalReportsTable(t)} (queue, bucket, reports)
       SELECT ${queue}, r.bucket, r.reports FROM (
         SELECT (x.e ->> 0)::bigint AS bucket,
                CASE WHEN ${allAcked} THEN x.e -> 1
                     ELSE (SELECT json_object_agg(k.key, k.value) FROM json_each(x.e -> 1) k
                            WHERE k.key::bigint IN (SELECT id FROM acked)) END AS reports
           FROM json_array_elements(${param}::json) x(e)) r
       WHERE r.reports IS NOT NULL
     )`;
}

/**
 * The newest shared entry of job `$2` of queue `$1`, as a row (attempt, progress, meta, logs, updated_at)
 * of jsonb values, for a read that merges it (see jobProgressGet). One index probe of the id's run.
 */
export function finalReportSql(t: QueueTables): string {
  return `SELECT (r.e ->> 'a')::int AS attempt, (r.e -> 'p')::jsonb AS progress, (r.e -> 'm')::jsonb AS meta,
                 (r.e -> 'l')::jsonb AS logs, r.written_at AS updated_at
            FROM (SELECT f.reports -> $2::text AS e, f.written_at FROM ${finalReportsTable(t)} f
                   WHERE f.queue = $1 AND f.bucket = $2::bigint >> ${FINAL_REPORT_ID_SHIFT}
                     AND f.reports -> $2::text IS NOT NULL
                   ORDER BY f.written_at DESC LIMIT 1) r`;
}

/**
 * Deletes a queue's shared rows written longer ago than `maxAgeMs` (retention), oldest first, at most
 * `limit`. Returns how many rows.
 */
export async function jobFinalReportsPruneByAge(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const table = finalReportsTable(t);
  const { rowCount } = await db.query(
    `DELETE FROM ${table} f WHERE f.ctid = ANY (ARRAY(
       SELECT x.ctid FROM ${table} x
        WHERE x.queue = $1 AND x.written_at < now() - $2 * interval '1 millisecond'
        ORDER BY x.written_at LIMIT $3))`,
    [t.queue, maxAgeMs, limit],
  );
  return rowCount;
}
