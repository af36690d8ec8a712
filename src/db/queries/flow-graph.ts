import type { TrackedState } from '../../core/tracking.js';
import type { Executor } from '../executor.js';
import { statusExpression } from '../rows.js';
import { quoteIdent, queueTables } from '../sql.js';
import type { TrackedRow } from './tracked.js';

// Flows (named nodes with dependencies, see migration 0012): the flow row, and reads across its nodes.
// Distinct from flow.ts, which is flow control (claim-time limits).

export interface FlowGraphNode {
  name: string;
  queue: string;
  dependsOn: string[];
  onFailure: 'cancel' | 'continue';
}

export interface FlowRow {
  id: string;
  name: string | null;
  /** The nodes in definition order (a jsonb object would not keep it). */
  graph: FlowGraphNode[];
  node_count: number;
  retain_ms: string;
  cancelled_at: Date | null;
  created_at: Date;
}

const FLOW_COLUMNS = `f.id::text AS id, f.name, f.graph, f.node_count, f.retain_ms::text AS retain_ms, f.cancelled_at,
  f.created_at`;

export async function flowInsert(
  tx: Executor,
  schema: string,
  name: string | null,
  graph: FlowGraphNode[],
  retainMs: number,
): Promise<FlowRow> {
  const { rows } = await tx.query<FlowRow>(
    `INSERT INTO ${quoteIdent(schema)}._flows AS f (name, graph, node_count, retain_ms)
     VALUES ($1, $2::jsonb, $3, $4) RETURNING ${FLOW_COLUMNS}`,
    [name, JSON.stringify(graph), graph.length, retainMs],
  );
  return rows[0]!;
}

export async function flowGet(db: Executor, schema: string, id: string): Promise<FlowRow | null> {
  const { rows } = await db.query<FlowRow>(
    `SELECT ${FLOW_COLUMNS} FROM ${quoteIdent(schema)}._flows f WHERE f.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

export async function flowNodes(db: Executor, schema: string, id: string): Promise<TrackedRow[]> {
  const { rows } = await db.query<TrackedRow>(
    `SELECT t.queue, t.job_id::text AS job_id, t.state, t.result, t.error, t.flow_id::text AS flow_id, t.node,
       t.deps_pending, t.on_dep_failure, t.created_at, t.finished_at, t.expires_at
     FROM ${quoteIdent(schema)}._tracked_jobs t WHERE t.flow_id = $1 ORDER BY t.job_id`,
    [id],
  );
  return rows;
}

/** The live status of some jobs of one queue (those still in it), by id. */
export async function liveStatuses(
  db: Executor,
  schema: string,
  queue: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const t = queueTables(schema, queue);
  const { rows } = await db.query<{ id: string; status: string }>(
    `SELECT j.id::text AS id, ${statusExpression(t, 'j')} AS status FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.status]));
}

export interface FlowSummaryRow {
  id: string;
  name: string | null;
  node_count: number;
  cancelled_at: Date | null;
  created_at: Date;
  unfinished: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  finished_at: Date | null;
}

/** The newest flows (id descending, before `beforeId` when given), each with its nodes counted by state. */
export async function flowList(
  db: Executor,
  schema: string,
  limit: number,
  beforeId: string | null,
): Promise<FlowSummaryRow[]> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<FlowSummaryRow>(
    `SELECT f.id::text AS id, f.name, f.node_count, f.cancelled_at, f.created_at,
       c.unfinished, c.succeeded, c.failed, c.cancelled, c.finished_at
     FROM ${s}._flows f
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE t.state = 'unfinished')::int AS unfinished,
              count(*) FILTER (WHERE t.state = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE t.state = 'failed')::int AS failed,
              count(*) FILTER (WHERE t.state = 'cancelled')::int AS cancelled,
              CASE WHEN bool_and(t.state <> 'unfinished') THEN max(t.finished_at) END AS finished_at
       FROM ${s}._tracked_jobs t WHERE t.flow_id = f.id
     ) c
     WHERE ($2::bigint IS NULL OR f.id < $2::bigint)
     ORDER BY f.id DESC LIMIT $1`,
    [limit, beforeId],
  );
  return rows;
}

/** Marks a flow cancelled (once); returns its live nodes by queue, or null when the flow does not exist. */
export async function flowMarkCancelled(
  tx: Executor,
  schema: string,
  id: string,
): Promise<Map<string, string[]> | null> {
  const s = quoteIdent(schema);
  const f = await tx.query<{ id: string }>(
    `UPDATE ${s}._flows f SET cancelled_at = coalesce(f.cancelled_at, now()) WHERE f.id = $1 RETURNING f.id::text AS id`,
    [id],
  );
  if (f.rows.length === 0) return null;
  // Pending nodes, and cancelled ones still parked in their queues.
  const { rows } = await tx.query<{ queue: string; job_id: string }>(
    `SELECT t.queue, t.job_id::text AS job_id FROM ${s}._tracked_jobs t
     WHERE t.flow_id = $1 AND t.state IN ('unfinished', 'cancelled') ORDER BY t.queue, t.job_id`,
    [id],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.queue, [...(out.get(r.queue) ?? []), r.job_id]);
  return out;
}

/** Flow state from its nodes' states. */
export function flowState(
  cancelledAt: Date | null,
  states: readonly TrackedState[],
): 'active' | 'succeeded' | 'failed' | 'cancelled' {
  if (cancelledAt !== null) return 'cancelled';
  if (states.some((s) => s === 'unfinished')) return 'active';
  if (states.every((s) => s === 'succeeded')) return 'succeeded';
  return 'failed';
}
