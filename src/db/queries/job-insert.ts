import { compareJobIds } from '../../core/ids.js';
import type { DedupMode } from '../../types.js';
import type { Executor } from '../executor.js';
import { jobColumns, type JobRow } from '../rows.js';
import { groupLockKey, insertKeyLockKey, type QueueTables } from '../sql.js';
import type { DepthCap, EnqueueControl } from './enqueue-controls.js';
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
  /** Uniqueness over a period, debounce or throttle (single inserts only; see enqueue-controls.ts). */
  control?: EnqueueControl | null;
  /** A depth cap (maxQueued; single inserts only). */
  cap?: DepthCap | null;
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

/**
 * Takes, in one statement and in one fixed order, every lock a batch insert would otherwise take row by
 * row: its groups' insert locks (in key order, as the rows come), then a lock per dedup or idempotency
 * key (in key order). A batch whose rows carry keys takes them before its first row, so two such batches
 * cannot hold what the other waits for: without it, one that went ahead of the other in one group could
 * wait for a key the other had inserted further down its own order, or a batch split in two statements
 * (replace rows apart from the others) took its groups in two passes. Must run inside the batch's
 * transaction.
 */
export async function jobInsertLocks(
  db: Executor,
  t: QueueTables,
  jobs: readonly JobInsert[],
): Promise<void> {
  const groups = [...new Set(jobs.flatMap((j) => (j.groupKey === null ? [] : [j.groupKey])))].sort(
    compareGroupKeys,
  );
  const keys = [
    ...new Set(jobs.flatMap((j) => [j.dedupKey, j.idempotencyKey].filter((k): k is string => k !== null))),
  ].sort(compareGroupKeys);
  if (groups.length + keys.length === 0) return;
  await db.query(
    `SELECT pg_advisory_xact_lock(hashtextextended(l.k, 0))
     FROM (SELECT $1 || g AS k, o FROM unnest($2::text[]) WITH ORDINALITY AS u(g, o)
           UNION ALL
           SELECT $3 || k, o + 1000000 FROM unnest($4::text[]) WITH ORDINALITY AS v(k, o)) l
     ORDER BY l.o`,
    [groupLockKey(t), groups, insertKeyLockKey(t), keys],
    `${t.statementPrefix}insert:locks`,
  );
}

/** The live (non-terminal) job holding an idempotency key, if any. */
export async function jobByIdempotencyKey(db: Executor, t: QueueTables, key: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${jobColumns('j')} FROM ${t.jobs} j WHERE j.idempotency_key = $1`,
    [key],
  );
  return rows[0] ?? null;
}

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

/**
 * The columns of a batch insert besides the payload. A column whose value is the same in every row (the
 * common case: defaults) travels as one scalar parameter; the others as arrays, zipped with the payloads
 * by ROWS FROM. Sending 1,000 copies of a default costs the client an array literal to build and escape
 * and the server one to parse, per column.
 */
interface BatchColumn {
  alias: string;
  type: string;
  value: (j: JobInsert) => unknown;
  same?: (a: unknown, b: unknown) => boolean;
}

const sameTime = (a: unknown, b: unknown) =>
  a === b || (a instanceof Date && b instanceof Date && a.getTime() === b.getTime());

const BATCH_COLUMNS: readonly BatchColumn[] = [
  { alias: 'g', type: 'text', value: (j) => j.groupKey },
  { alias: 'pr', type: 'smallint', value: (j) => j.priority },
  { alias: 'ra', type: 'timestamptz', value: (j) => j.runAt, same: sameTime },
  { alias: 'd', type: 'bigint', value: (j) => j.delayMs },
  { alias: 'ma', type: 'int', value: (j) => j.maxAttempts },
  { alias: 'dk', type: 'text', value: (j) => j.dedupKey },
  { alias: 'ik', type: 'text', value: (j) => j.idempotencyKey },
  { alias: 'pid', type: 'bigint', value: (j) => j.parentId },
  { alias: 'ir', type: 'bool', value: (j) => j.isRollup },
  { alias: 'su', type: 'bool', value: (j) => j.suspended },
  { alias: 'm', type: 'text', value: (j) => j.meta },
];

/**
 * Inserts many jobs in one statement, in the order given. Callers pass rows through sortForInsert first:
 * every batch then takes group locks in the same order, so concurrent batches cannot deadlock, and ids
 * (assigned in row order) follow that order. All rows must share one dedup mode.
 * Returns the rows in id order; without a conflict clause, exactly one per job, in the order of `jobs`
 * (anything else throws).
 */
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
  // Payloads are JSON texts already: joined, they are one JSON array, parsed once by the server.
  let payloads = '[';
  for (let i = 0; i < jobs.length; i++) payloads += (i === 0 ? '' : ',') + jobs[i]!.payload;
  const values: unknown[] = [payloads + ']'];
  const sources = ['jsonb_array_elements($1::jsonb)'];
  const aliases = ['p'];
  const expr: Record<string, string> = {};
  let shape = '';
  const first = jobs[0]!;
  for (const col of BATCH_COLUMNS) {
    const v0 = col.value(first);
    const same = col.same ?? ((a, b) => a === b);
    let uniform = true;
    for (let i = 1; i < jobs.length && uniform; i++) uniform = same(col.value(jobs[i]!), v0);
    if (uniform) {
      values.push(v0);
      expr[col.alias] = `$${values.length}::${col.type}`;
      shape += 's';
    } else {
      values.push(jobs.map(col.value));
      sources.push(`unnest($${values.length}::${col.type}[])`);
      aliases.push(col.alias);
      expr[col.alias] = `u.${col.alias}`;
      shape += 'a';
    }
  }
  // Without a conflict clause every row is stored as sent: only the id and the statement's time come back
  // (formatting and parsing the other columns was a third of a small insert's round trip).
  const lean = conflict === '';
  // A grouped row's run_at can be raised by its group's insert lock (migration 0005): read it back.
  const grouped = jobs.some((j) => j.groupKey !== null);
  const text = `${opts.quiet ? QUIET_CTE : ''} INSERT INTO ${t.jobs} AS j ${INSERT_COLUMNS}
    SELECT u.p, ${expr.g}, ${expr.pr}, coalesce(${expr.ra}, now() + ${expr.d} * interval '1 millisecond'),
           ${expr.ma}, ${expr.dk}, ${expr.ik}, ${expr.pid}, ${expr.ir}, ${expr.su}, ${expr.m}::jsonb
    FROM ROWS FROM (${sources.join(', ')}) WITH ORDINALITY AS u(${aliases.join(', ')}, ord)
         ${opts.quiet ? 'CROSS JOIN quiet' : ''}
    ORDER BY u.ord
    ${conflict}
    ${returning ? `RETURNING ${lean ? `j.id, j.created_at${grouped ? ', j.run_at' : ''}` : `${jobColumns('j')}, (j.xmax = 0) AS inserted`}` : ''}`;
  const name = `${t.statementPrefix}insertMany:${mode ?? (conflict ? 'keys' : 'plain')}:${shape}${returning ? (grouped ? ':rg' : ':r') : ''}${opts.quiet ? ':quiet' : ''}`;
  // Prepared only for the common shapes (at most two varying columns), so the statements one connection
  // keeps prepared stay few whatever mix of options callers send.
  const arrays = aliases.length - 1;
  const res = await db.query<InsertedRow | InsertedId>(text, values, arrays <= 2 ? name : undefined);
  // Inserted rows get their ids in row order, so in id order they follow `jobs`: callers without a
  // conflict clause line the rows up with what they sent. (A row replaced by dedup keeps its older id.)
  res.rows.sort((a, b) => compareJobIds(a.id, b.id));
  if (!lean || !returning) return { rows: res.rows as InsertedRow[], count: res.rowCount };
  if (res.rows.length !== jobs.length)
    throw new Error(`insert returned ${res.rows.length} of ${jobs.length} rows`);
  return { rows: res.rows.map((r, i) => storedAsSent(jobs[i]!, r as InsertedId)), count: res.rowCount };
}

interface InsertedId {
  id: string;
  created_at: Date;
  /** Read back for grouped rows only (see jobInsertMany). */
  run_at?: Date;
}

/**
 * The row an insert without a conflict clause stored: the job as sent (no trigger changes a column but
 * the id, and a grouped row's run_at, which is read back), the defaults, and the statement's time. Payload and meta are parsed from the JSON texts that
 * were sent, so their keys keep the caller's order (a later read returns them in jsonb's order).
 */
function storedAsSent(job: JobInsert, r: InsertedId): InsertedRow {
  const now = r.created_at.getTime();
  return {
    id: r.id,
    payload: JSON.parse(job.payload) as unknown,
    group_key: job.groupKey,
    priority: job.priority,
    run_at: r.run_at ?? new Date(job.runAt ? job.runAt.getTime() : now + job.delayMs),
    leased_until: null,
    attempts: 0,
    max_attempts: job.maxAttempts,
    last_error: null,
    dedup_key: job.dedupKey,
    idempotency_key: job.idempotencyKey,
    parent_id: job.parentId,
    is_rollup: job.isRollup,
    suspended: job.suspended,
    parent_state: null,
    worker_id: null,
    meta: job.meta === null ? null : (JSON.parse(job.meta) as Record<string, unknown>),
    claimed_at: null,
    created_at: r.created_at,
    updated_at: new Date(now),
    inserted: true,
  };
}
