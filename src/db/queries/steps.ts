import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { historyTable } from './job-history.js';
import { depsResolve } from './tracked.js';

// Durable steps (migration 0013): schema-wide tables keyed by queue and job id. Only jobs whose handler
// calls a step method read or write here.

export const stepsTable = (schema: string): string => `${quoteIdent(schema)}._steps`;
export const waitsTable = (schema: string): string => `${quoteIdent(schema)}._waits`;
export const eventsTable = (schema: string): string => `${quoteIdent(schema)}._events`;

export type StepKind = 'step' | 'sleep' | 'event' | 'timeout' | 'run';

export interface StepRow {
  name: string;
  kind: StepKind;
  /** The stored JSON value; undefined when the step returned nothing. */
  result: unknown;
  attempt: number;
  finished_at: Date;
}

/** A job's finished steps, in the order they finished. */
export async function stepList(db: Executor, t: QueueTables, jobId: string): Promise<StepRow[]> {
  const { rows } = await db.query<Omit<StepRow, 'result'> & { result: unknown; has: boolean }>(
    `SELECT name, kind, result, (result IS NOT NULL) AS has, attempt, finished_at FROM ${stepsTable(t.schema)}
      WHERE queue = $1 AND job_id = $2 ORDER BY finished_at, name`,
    [t.queue, jobId],
    `${t.statementPrefix}steps:list`,
  );
  return rows.map((r) => ({ ...r, result: r.has ? r.result : undefined }));
}

/**
 * Records a finished step, fenced: only while the job is held at `attempts` (the job row is share-locked
 * in the same statement, so its completion or a new claim waits for this write rather than racing it).
 * `result` is JSON text, or null for a step that returned nothing. Returns `written`, `exists` (a step of
 * that name is already stored) or `fenced`.
 */
export async function stepRecord(
  db: Executor,
  t: QueueTables,
  f: { id: string; attempts: number },
  name: string,
  result: string | null,
  kind: StepKind = 'step',
): Promise<'written' | 'exists' | 'fenced'> {
  const { rows } = await db.query<{ held: boolean; written: boolean }>(
    `WITH f AS (
       SELECT j.id, j.attempts FROM ${t.jobs} j
        WHERE j.id = $1 AND j.attempts = $2 AND num_nulls(j.leased_until) = 0 FOR SHARE OF j
     ), ins AS (
       INSERT INTO ${stepsTable(t.schema)} (queue, job_id, name, kind, result, attempt)
       SELECT $3, f.id, $4, $6, $5::jsonb, f.attempts FROM f
       ON CONFLICT (queue, job_id, name) DO NOTHING
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM f) AS held, EXISTS (SELECT 1 FROM ins) AS written`,
    [f.id, f.attempts, t.queue, name, result, kind],
    `${t.statementPrefix}steps:record`,
  );
  const r = rows[0]!;
  return !r.held ? 'fenced' : r.written ? 'written' : 'exists';
}

/** What parking (or trying to) answered; see `_wait_event` and `_wait_sleep` in migration 0013. */
export type ParkAnswer =
  | { state: 'released'; result: unknown }
  | { state: 'timeout' }
  | { state: 'done' }
  | { state: 'fenced' }
  | { state: 'parked'; until: string | null; in_ms?: number };

/** Waits for an event (see `_wait_event`): returns at once when it was emitted, else parks the job. */
export async function stepWaitEvent(
  db: Executor,
  t: QueueTables,
  f: { id: string; attempts: number },
  step: string,
  event: string,
  timeoutMs: number | null,
): Promise<ParkAnswer> {
  const { rows } = await db.query<{ a: ParkAnswer }>(
    `SELECT ${quoteIdent(t.schema)}._wait_event($1, $2, $3, $4, $5, $6) AS a`,
    [t.queue, f.id, f.attempts, step, event, timeoutMs],
  );
  return rows[0]!.a;
}

/** Sleeps (see `_wait_sleep`): `done` once the step's wake time has passed, else parks the job. */
export async function stepSleep(
  db: Executor,
  t: QueueTables,
  f: { id: string; attempts: number },
  step: string,
  wake: { ms: number } | { at: Date },
): Promise<ParkAnswer> {
  const { rows } = await db.query<{ a: ParkAnswer }>(
    `SELECT ${quoteIdent(t.schema)}._wait_sleep($1, $2, $3, $4, $5, $6) AS a`,
    [t.queue, f.id, f.attempts, step, 'ms' in wake ? wake.ms : null, 'at' in wake ? wake.at : null],
  );
  return rows[0]!.a;
}

/** Emits an event (see `_emit`): stored by name, every job parked on it released. Returns how many. */
export async function eventEmit(
  db: Executor,
  schema: string,
  name: string,
  payload: string,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT ${quoteIdent(schema)}._emit($1, $2::jsonb) AS n`, [
    name,
    payload,
  ]);
  return rows[0]!.n;
}

export interface WaitRow {
  step: string;
  kind: 'event' | 'sleep';
  event: string | null;
  until: Date | null;
  created_at: Date;
}

/** What a job waits for, or null. A sleep whose wake time passed is still returned (it is due). */
export async function waitGet(db: Executor, t: QueueTables, jobId: string): Promise<WaitRow | null> {
  const { rows } = await db.query<WaitRow>(
    `SELECT step, kind, event, until, created_at FROM ${waitsTable(t.schema)} WHERE queue = $1 AND job_id = $2`,
    [t.queue, jobId],
  );
  return rows[0] ?? null;
}

export interface EventRow {
  name: string;
  payload: unknown;
  emitted_at: Date;
  emits: number;
  released: number;
  waiting: number;
}

/** An event as stored (latest payload, counts) and how many jobs wait for it now; null when never emitted and awaited by none. */
export async function eventGet(db: Executor, schema: string, name: string): Promise<EventRow | null> {
  const { rows } = await db.query<EventRow>(
    `SELECT $1::text AS name, e.payload, e.emitted_at, coalesce(e.emits, 0) AS emits,
            coalesce(e.released, 0) AS released,
            (SELECT count(*)::int FROM ${waitsTable(schema)} w WHERE w.event = $1) AS waiting
       FROM (SELECT 1) one LEFT JOIN ${eventsTable(schema)} e ON e.name = $1`,
    [name],
  );
  const r = rows[0]!;
  return r.emitted_at === null && r.waiting === 0 ? null : r;
}

/**
 * Whether the queue has step or wait rows to sweep (null: none), and whether it has a history table.
 * Two index probes: queues that never used steps cost nothing more.
 */
export async function stepSweepPlan(db: Executor, t: QueueTables): Promise<{ withHistory: boolean } | null> {
  const { rows } = await db.query<{ any: boolean; h: boolean }>(
    `SELECT (EXISTS (SELECT 1 FROM ${stepsTable(t.schema)} WHERE queue = $1)
             OR EXISTS (SELECT 1 FROM ${waitsTable(t.schema)} WHERE queue = $1)) AS any,
            to_regclass($2) IS NOT NULL AS h`,
    [t.queue, historyTable(t)],
  );
  return rows[0]!.any ? { withHistory: rows[0]!.h } : null;
}

/**
 * Deletes up to `limit` step and wait rows of this queue's jobs that are gone: not in the queue, its
 * history (when it has one) or its dead letters. Returns how many rows went.
 */
export async function stepSweepOrphans(
  db: Executor,
  t: QueueTables,
  withHistory: boolean,
  limit: number,
): Promise<number> {
  const gone = (alias: string) =>
    `NOT EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.id = ${alias}.job_id)
     AND NOT EXISTS (SELECT 1 FROM ${t.dlq} d WHERE d.job_id = ${alias}.job_id)
     ${withHistory ? `AND NOT EXISTS (SELECT 1 FROM ${historyTable(t)} h WHERE h.id = ${alias}.job_id)` : ''}`;
  const steps = await db.query(
    `DELETE FROM ${stepsTable(t.schema)} s WHERE s.queue = $1 AND s.job_id IN (
       SELECT x.job_id FROM (SELECT DISTINCT job_id FROM ${stepsTable(t.schema)} WHERE queue = $1) x
        WHERE ${gone('x')} LIMIT $2)`,
    [t.queue, limit],
  );
  const waits = await db.query(`DELETE FROM ${waitsTable(t.schema)} w WHERE w.queue = $1 AND ${gone('w')}`, [
    t.queue,
  ]);
  return steps.rowCount + waits.rowCount;
}

/** Deletes up to `limit` events emitted longer ago than `maxAgeMs` that no job waits for. */
export async function eventPrune(
  db: Executor,
  schema: string,
  maxAgeMs: number,
  limit: number,
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM ${eventsTable(schema)} e WHERE e.name IN (
       SELECT x.name FROM ${eventsTable(schema)} x
        WHERE x.emitted_at < now() - $1 * interval '1 millisecond'
          AND NOT EXISTS (SELECT 1 FROM ${waitsTable(schema)} w WHERE w.event = x.name)
        ORDER BY x.emitted_at LIMIT $2)`,
    [maxAgeMs, limit],
  );
  return rowCount;
}

/** The event a job awaited by ctx.run emits when it ends (`$` names are reserved for Arbiter's own). */
export function jobDoneEvent(queue: string, id: string): string {
  return `$job:${queue}:${id}`;
}

/**
 * Makes job `id` of `queue`, just enqueued (or handed back by an enqueue control) inside `tx` for a
 * ctx.run, report its end to its awaiting jobs: tracked (as a dependency is) and marked awaited, so the
 * statement that ends it emits its done event (migration 0015). Returns false when the job is neither
 * live nor recorded (it ended meanwhile without a record): nothing will report.
 */
export async function awaitMark(
  tx: Executor,
  schema: string,
  queue: string,
  id: string,
  retainMs: number,
): Promise<boolean> {
  const { missing } = await depsResolve(tx, schema, queue, [id], retainMs);
  if (missing.length > 0) return false;
  await tx.query(`SELECT ${quoteIdent(schema)}._await_mark($1, $2)`, [queue, id]);
  return true;
}

/** The meta key that marks a job awaited by ctx.run (its value: the awaiting job, `queue:id`). */
export const AWAITED_META_KEY = 'arbiter.awaitedBy';
