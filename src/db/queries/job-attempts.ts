import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { fencedBy } from './fence.js';

// Every failed attempt of a job (migration 0009): its error, the worker that ran it, when it started and
// how long it ran. Schema-wide, keyed by queue, job id and attempt.

/** Attempts one read returns at most (the newest). */
export const MAX_ATTEMPTS_READ = 100;

export const attemptsTable = (t: QueueTables): string => `${quoteIdent(t.schema)}._job_attempts`;

export interface FailedAttempt {
  id: string;
  attempts: number;
  error: string;
}

/**
 * Records failed attempts, fenced like the retry or dead-letter write that follows in the same flush:
 * only attempts whose job is still held by them. The worker and start time come from the job row
 * (`worker_id`, `claimed_at`), the duration is measured to now on the database clock. Idempotent: a
 * flush retried after a lost connection records each attempt once.
 */
export async function jobAttemptsRecord(
  db: Executor,
  t: QueueTables,
  items: readonly FailedAttempt[],
): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO ${attemptsTable(t)} (queue, job_id, attempt, error, worker_id, started_at, duration_ms, failed_at)
     SELECT $1, j.id, j.attempts, u.error, j.worker_id, j.claimed_at,
            extract(epoch FROM clock_timestamp() - j.claimed_at) * 1000, now()
       FROM unnest($2::bigint[], $3::int[], $4::text[]) AS u(id, attempts, error)
       JOIN ${t.jobs} j ON ${fencedBy('j', 'u')}
     ON CONFLICT (queue, job_id, attempt) DO UPDATE SET error = EXCLUDED.error`,
    [t.queue, items.map((i) => i.id), items.map((i) => i.attempts), items.map((i) => i.error)],
    `${t.statementPrefix}worker:attempts`,
  );
}

export interface AttemptRow {
  attempt: number;
  error: string;
  worker_id: string | null;
  started_at: Date | null;
  duration_ms: number | null;
  failed_at: Date;
}

/** A job's failed attempts, oldest first (the newest MAX_ATTEMPTS_READ). */
export async function jobAttemptsGet(db: Executor, t: QueueTables, id: string): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT * FROM (
       SELECT attempt, error, worker_id, started_at, duration_ms, failed_at FROM ${attemptsTable(t)}
        WHERE queue = $1 AND job_id = $2 ORDER BY attempt DESC LIMIT ${MAX_ATTEMPTS_READ}
     ) a ORDER BY attempt`,
    [t.queue, id],
  );
  return rows;
}

/** Deletes a queue's attempt rows older than `maxAgeMs` (retention). Returns how many. */
export async function jobAttemptsPruneByAge(
  db: Executor,
  t: QueueTables,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const table = attemptsTable(t);
  const { rowCount } = await db.query(
    `DELETE FROM ${table} a USING (
       SELECT job_id, attempt FROM ${table}
        WHERE queue = $1 AND failed_at < now() - $2 * interval '1 millisecond'
        ORDER BY failed_at LIMIT $3
     ) o WHERE a.queue = $1 AND a.job_id = o.job_id AND a.attempt = o.attempt`,
    [t.queue, maxAgeMs, limit],
  );
  return rowCount;
}
