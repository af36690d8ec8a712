import type { DependencyKey, DependencyFailurePolicy, TrackedState } from '../../core/tracking.js';
import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';
import { fencedBy } from './fence.js';

// Tracked jobs (awaited results, flow nodes, dependencies): their rows in _tracked_jobs and their edges in
// _job_deps, schema-wide (see migration 0012). Plain jobs never reach this file.

export interface TrackedRow {
  queue: string;
  job_id: string;
  state: TrackedState;
  result: unknown;
  error: string | null;
  flow_id: string | null;
  node: string | null;
  deps_pending: number;
  on_dep_failure: DependencyFailurePolicy;
  created_at: Date;
  finished_at: Date | null;
  expires_at: Date | null;
}

export interface TrackedInsert {
  queue: string;
  jobId: string;
  state: TrackedState;
  error: string | null;
  flowId: string | null;
  node: string | null;
  depsPending: number;
  onDepFailure: DependencyFailurePolicy;
  retainMs: number;
}

export interface EdgeInsert {
  queue: string;
  jobId: string;
  depQueue: string;
  depJobId: string;
  state: TrackedState;
}

const TRACKED_COLUMNS = `t.queue, t.job_id::text AS job_id, t.state, t.result, t.error, t.flow_id::text AS flow_id,
  t.node, t.deps_pending, t.on_dep_failure, t.created_at, t.finished_at, t.expires_at`;

export async function trackedInsert(
  tx: Executor,
  schema: string,
  rows: readonly TrackedInsert[],
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO ${quoteIdent(schema)}._tracked_jobs (queue, job_id, state, error, flow_id, node, deps_pending,
       on_dep_failure, retain_ms, finished_at, expires_at)
     SELECT u.queue, u.job_id, u.state, u.error, u.flow_id, u.node, u.deps_pending, u.policy, u.retain_ms,
       CASE WHEN u.state <> 'unfinished' THEN now() END,
       CASE WHEN u.state <> 'unfinished' THEN now() + u.retain_ms * interval '1 millisecond' END
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[],
                 $9::bigint[]) AS u(queue, job_id, state, error, flow_id, node, deps_pending, policy, retain_ms)`,
    [
      rows.map((r) => r.queue),
      rows.map((r) => r.jobId),
      rows.map((r) => r.state),
      rows.map((r) => r.error),
      rows.map((r) => r.flowId),
      rows.map((r) => r.node),
      rows.map((r) => r.depsPending),
      rows.map((r) => r.onDepFailure),
      rows.map((r) => r.retainMs),
    ],
  );
}

export async function edgesInsert(tx: Executor, schema: string, edges: readonly EdgeInsert[]): Promise<void> {
  if (edges.length === 0) return;
  await tx.query(
    `INSERT INTO ${quoteIdent(schema)}._job_deps (queue, job_id, dep_queue, dep_job_id, state)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])`,
    [
      edges.map((e) => e.queue),
      edges.map((e) => e.jobId),
      edges.map((e) => e.depQueue),
      edges.map((e) => e.depJobId),
      edges.map((e) => e.state),
    ],
  );
}

/**
 * Resolves dependencies of one queue for a new dependent, inside its transaction, and makes sure each one
 * will report its end: a dependency already tracked has its row locked (its finishing trigger then waits
 * for this transaction, and sees the new edge); a live untracked job is marked tracked (its row locked
 * until commit) and gets a row. Returns each id's state; ids neither tracked nor live are missing.
 */
export async function depsResolve(
  tx: Executor,
  schema: string,
  queue: string,
  ids: readonly string[],
  retainMs: number,
): Promise<{ states: Map<string, { state: TrackedState; error: string | null }>; missing: string[] }> {
  const s = quoteIdent(schema);
  const sorted = [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  const known = await tx.query<{ job_id: string; state: TrackedState; error: string | null }>(
    `SELECT t.job_id::text AS job_id, t.state, t.error FROM ${s}._tracked_jobs t
     WHERE t.queue = $1 AND t.job_id = ANY($2::bigint[]) ORDER BY t.job_id FOR UPDATE`,
    [queue, sorted],
  );
  const states = new Map(known.rows.map((r) => [r.job_id, { state: r.state, error: r.error }]));
  const unknown = sorted.filter((id) => !states.has(id));
  let missing: string[] = [];
  if (unknown.length > 0) {
    const jobs = `${s}.${quoteIdent(queue)}`;
    const live = await tx.query<{ id: string }>(
      `WITH marked AS (
         UPDATE ${jobs} j SET meta = CASE WHEN j.meta ? 'arbiter' THEN j.meta
                                          ELSE coalesce(j.meta, '{}'::jsonb) || '{"arbiter": {}}'::jsonb END
         WHERE j.id = ANY($1::bigint[]) RETURNING j.id
       ),
       rows AS (
         INSERT INTO ${s}._tracked_jobs (queue, job_id, retain_ms)
         SELECT $2, m.id, $3 FROM marked m ON CONFLICT DO NOTHING
       )
       SELECT id::text AS id FROM marked`,
      [unknown, queue, retainMs],
    );
    const found = new Set(live.rows.map((r) => r.id));
    for (const id of found) states.set(id, { state: 'unfinished', error: null });
    missing = unknown.filter((id) => !found.has(id));
  }
  return { states, missing };
}

/**
 * Acks tracked standalone ungrouped jobs (no parent, no children, no group) in one statement: each job's result is written
 * to its row in the same statement as the delete, so the delete's trigger records it succeeded with it.
 * Returns the ids acked; the others (grouped, in a tree, or fenced off) are left for the transaction path.
 */
export async function trackedAckMany(
  db: Executor,
  t: QueueTables,
  items: readonly { id: string; attempts: number; result: string | null }[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(id, attempts, result)),
     done AS (
       DELETE FROM ${t.jobs} j USING u
       WHERE ${fencedBy('j', 'u')} AND j.group_key IS NULL AND j.parent_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.id, u.result
     ),
     staged AS (
       UPDATE ${quoteIdent(t.schema)}._tracked_jobs r SET result = d.result::jsonb
       FROM done d WHERE r.queue = $4 AND r.job_id = d.id
     )
     SELECT id::text AS id FROM done`,
    [items.map((i) => i.id), items.map((i) => i.attempts), items.map((i) => i.result), t.queue],
    `${t.statementPrefix}ack:tracked`,
  );
  return rows.map((r) => r.id);
}

/** Writes a held tracked job's result ahead of its ack (the transaction path); 0 when fenced off. */
export async function trackedStageResult(
  tx: Executor,
  t: QueueTables,
  fence: { id: string; attempts: number },
  result: string | null,
): Promise<number> {
  const res = await tx.query(
    `UPDATE ${quoteIdent(t.schema)}._tracked_jobs r SET result = $3::jsonb
     WHERE r.queue = $4 AND r.job_id = $1
       AND EXISTS (SELECT 1 FROM ${t.jobs} j WHERE j.id = $1 AND j.attempts = $2 AND num_nulls(j.leased_until) = 0)`,
    [fence.id, fence.attempts, result, t.queue],
  );
  return res.rowCount;
}

export async function trackedRead(
  db: Executor,
  schema: string,
  keys: readonly { queue: string; id: string }[],
): Promise<TrackedRow[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<TrackedRow>(
    `SELECT ${TRACKED_COLUMNS} FROM ${quoteIdent(schema)}._tracked_jobs t
     JOIN unnest($1::text[], $2::bigint[]) AS u(queue, job_id) ON t.queue = u.queue AND t.job_id = u.job_id`,
    [keys.map((k) => k.queue), keys.map((k) => k.id)],
  );
  return rows;
}

export interface DependencyRow extends TrackedRow {
  edge_state: TrackedState;
}

/** A job's dependencies: each edge's state and the dependency's record (result, error, node name). */
export async function dependenciesOf(
  db: Executor,
  schema: string,
  queue: string,
  id: string,
): Promise<DependencyRow[]> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<DependencyRow>(
    `SELECT ${TRACKED_COLUMNS}, x.state AS edge_state FROM ${s}._job_deps x
     JOIN ${s}._tracked_jobs t ON t.queue = x.dep_queue AND t.job_id = x.dep_job_id
     WHERE x.queue = $1 AND x.job_id = $2 ORDER BY t.node NULLS LAST, t.queue, t.job_id`,
    [queue, id],
  );
  return rows;
}

/** A dead letter of a tracked job was retried as `newId`: its record and edges follow it (see 0012). */
export async function trackedRequeue(
  tx: Executor,
  schema: string,
  queue: string,
  oldId: string,
  newId: string,
): Promise<void> {
  await tx.query(`SELECT ${quoteIdent(schema)}._track_requeue($1, $2, $3)`, [queue, oldId, newId]);
}

/** Removes tracked records and flows past their retention (see _track_prune); returns the rows removed. */
export async function trackedPrune(db: Executor, schema: string, limit: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT ${quoteIdent(schema)}._track_prune($1) AS n`, [
    limit,
  ]);
  return rows[0]?.n ?? 0;
}

export type { DependencyKey };
