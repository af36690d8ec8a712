import type { DedupMode } from '../../types.js';
import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import type { QueueTables } from '../sql.js';
import { compareGroupKeys } from './group-lock.js';

/** A validated job ready to be written; produced by the client layer. */
export interface JobInsert {
  payload: string;
  groupKey: string | null;
  priority: number;
  runAt: Date | null;
  delayMs: number;
  maxAttempts: number;
  dedupKey: string | null;
  dedupMode: DedupMode | null;
  idempotencyKey: string | null;
  parentId: string | null;
  isRollup: boolean;
  suspended: boolean;
  meta: string | null;
}

const INSERT_COLUMNS = `(payload, group_key, priority, run_at, max_attempts, dedup_key, idempotency_key, parent_id,
  is_rollup, suspended, meta)`;

/**
 * Replace-duplicate: overwrite the existing job unless it is in flight on a run that has not failed.
 * A job in flight after a failure is replaced too, but its lease is kept (no second worker may start it
 * early) and its attempt number is bumped, so the old worker's late writes are fenced off. Attempts never
 * go down (that would let a stale worker's attempt number match again); the new job gets a fresh budget.
 */
function replaceClause(): string {
  const inFlight = `coalesce(j.leased_until > now(), false)`;
  return `ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO UPDATE SET
      payload = EXCLUDED.payload, group_key = EXCLUDED.group_key, priority = EXCLUDED.priority,
      parent_id = EXCLUDED.parent_id, is_rollup = EXCLUDED.is_rollup, suspended = EXCLUDED.suspended,
      meta = EXCLUDED.meta, last_error = NULL, parent_state = NULL, updated_at = now(),
      attempts = CASE WHEN ${inFlight} THEN j.attempts + 1 ELSE j.attempts END,
      max_attempts = CASE WHEN ${inFlight} THEN j.attempts + 1 ELSE j.attempts END + EXCLUDED.max_attempts,
      run_at = CASE WHEN ${inFlight} THEN greatest(j.run_at, EXCLUDED.run_at) ELSE EXCLUDED.run_at END,
      leased_until = CASE WHEN ${inFlight} THEN j.leased_until END,
      worker_id = CASE WHEN ${inFlight} THEN j.worker_id END
    WHERE NOT (${inFlight} AND j.last_error IS NULL)`;
}

function conflictClause(mode: DedupMode | null, hasKeys: boolean): string {
  if (mode === 'replace') return replaceClause();
  return hasKeys ? 'ON CONFLICT DO NOTHING' : '';
}

export type InsertedRow = JobRow & { inserted: boolean };

export async function jobInsert(
  db: Executor,
  t: QueueTables,
  job: JobInsert,
  opts: QuietOption = {},
): Promise<InsertedRow | null> {
  const conflict = conflictClause(job.dedupMode, job.dedupKey !== null || job.idempotencyKey !== null);
  const text = `${opts.quiet ? QUIET_CTE : ''} INSERT INTO ${t.jobs} AS j ${INSERT_COLUMNS}
    SELECT $1::jsonb, $2, $3, coalesce($4::timestamptz, now() + $5::bigint * interval '1 millisecond'), $6, $7, $8,
           $9::bigint, $10, $11, $12::jsonb
    ${opts.quiet ? 'FROM quiet' : ''}
    ${conflict}
    RETURNING ${jobColumns('j')}, (j.xmax = 0) AS inserted`;
  const { rows } = await db.query<InsertedRow>(
    text,
    [
      job.payload,
      job.groupKey,
      job.priority,
      job.runAt,
      job.delayMs,
      job.maxAttempts,
      job.dedupKey,
      job.idempotencyKey,
      job.parentId,
      job.isRollup,
      job.suspended,
      job.meta,
    ],
    `${t.statementPrefix}insert:${job.dedupMode ?? (conflict ? 'keys' : 'plain')}${opts.quiet ? ':quiet' : ''}`,
  );
  return rows[0] ?? null;
}

export interface QuietOption {
  /**
   * Suppress the insert trigger's NOTIFY for this statement: the caller sends the wake-up itself once
   * the statement has committed (see migration 0004). Only for statements that commit on their own.
   */
  quiet?: boolean;
}

// Sets arbiter.notify = 'off' for the rest of the (single-statement) transaction, before the insert's
// statement trigger reads it. A CTE with a volatile function is evaluated once and never inlined.
const QUIET_CTE = `WITH quiet AS MATERIALIZED (SELECT set_config('arbiter.notify', 'off', true) AS off)`;

/** The live (non-terminal) job holding an idempotency key, if any. */
export async function jobByIdempotencyKey(db: Executor, t: QueueTables, key: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobColumns('j')} FROM ${t.jobs} j WHERE j.idempotency_key = $1`,
    [key],
  );
  return rows[0] ?? null;
}

/**
 * Inserts many jobs in one statement, in the order given. Callers pass rows through sortForInsert first:
 * every batch then takes group locks in the same order, so concurrent batches cannot deadlock, and ids
 * (assigned in row order) follow that order. All rows must share one dedup mode.
 */
/** Ungrouped rows first, then by group key (code-point order); stable, so caller order holds inside a group. */
export function sortForInsert<R extends { groupKey: string | null }>(rows: readonly R[]): R[] {
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => {
      const ga = a.row.groupKey;
      const gb = b.row.groupKey;
      if (ga === gb) return a.i - b.i;
      if (ga === null) return -1;
      if (gb === null) return 1;
      return compareGroupKeys(ga, gb);
    })
    .map((x) => x.row);
}

export async function jobInsertMany(
  db: Executor,
  t: QueueTables,
  jobs: JobInsert[],
  mode: DedupMode | null,
  returning: boolean,
  opts: QuietOption = {},
): Promise<{ rows: InsertedRow[]; count: number }> {
  if (jobs.length === 0) return { rows: [], count: 0 };
  const hasKeys = jobs.some((j) => j.dedupKey !== null || j.idempotencyKey !== null);
  const conflict = conflictClause(mode, hasKeys);
  const text = `${opts.quiet ? QUIET_CTE : ''} INSERT INTO ${t.jobs} AS j ${INSERT_COLUMNS}
    SELECT u.p::jsonb, u.g, u.pr, coalesce(u.ra, now() + u.d * interval '1 millisecond'), u.ma, u.dk, u.ik, u.pid,
           u.ir, u.su, u.m::jsonb
    FROM unnest($1::text[], $2::text[], $3::smallint[], $4::timestamptz[], $5::bigint[], $6::int[], $7::text[],
                $8::text[], $9::bigint[], $10::bool[], $11::bool[], $12::text[])
         WITH ORDINALITY AS u(p, g, pr, ra, d, ma, dk, ik, pid, ir, su, m, ord)
         ${opts.quiet ? 'CROSS JOIN quiet' : ''}
    ORDER BY u.ord
    ${conflict}
    ${returning ? `RETURNING ${jobColumns('j')}, (j.xmax = 0) AS inserted` : ''}`;
  const res = await db.query<InsertedRow>(text, [
    jobs.map((j) => j.payload),
    jobs.map((j) => j.groupKey),
    jobs.map((j) => j.priority),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.delayMs),
    jobs.map((j) => j.maxAttempts),
    jobs.map((j) => j.dedupKey),
    jobs.map((j) => j.idempotencyKey),
    jobs.map((j) => j.parentId),
    jobs.map((j) => j.isRollup),
    jobs.map((j) => j.suspended),
    jobs.map((j) => j.meta),
  ]);
  return { rows: res.rows, count: res.rowCount };
}
