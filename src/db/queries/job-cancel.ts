import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { notifyChannel } from './notify.js';
import { treeLock, wakeParents } from './tree.js';

// Cancelling deletes live jobs: one, many, a job with its descendants, or a whole tree.
// Deleting a leased job is allowed: the worker's later fenced ack or retry finds no row and changes nothing.
// The worker holding it is told at commit: one NOTIFY naming the queue and the jobs (see notifyCancelled).
// Every function here must run inside a transaction (the advisory tree locks are transaction-scoped).

/**
 * Locks job rows (ascending id), then their group rows (ascending key), before a multi-row delete. The
 * delete trigger updates one group row per deleted job in whatever order the rows are deleted; taking
 * the locks up front in a fixed order keeps concurrent batch cancels (and acks, which lock a job row then
 * its group) from deadlocking.
 */
/** Row-locks jobs in id order, then their groups in key order (the order every multi-row write keeps). */
export async function lockForDelete(tx: Executor, t: QueueTables, ids: readonly string[]): Promise<void> {
  const { rows } = await tx.query<{ group_key: string | null }>(
    `SELECT j.group_key FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[]) ORDER BY j.id FOR UPDATE`,
    [ids],
  );
  const keys = [...new Set(rows.map((r) => r.group_key).filter((k): k is string => k !== null))];
  if (keys.length === 0) return;
  await tx.query(
    `SELECT 1 FROM ${t.groups} g WHERE g.group_key = ANY($1::text[]) ORDER BY g.group_key FOR NO KEY UPDATE`,
    [keys],
  );
}

async function parentsOf(
  tx: Executor,
  t: QueueTables,
  ids: readonly string[],
): Promise<Map<string, string | null>> {
  const { rows } = await tx.query<{ id: string; parent_id: string | null }>(
    `SELECT j.id, j.parent_id FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.parent_id]));
}

/**
 * Runs a delete that cancels jobs: tracked jobs it removes (awaited results, flow nodes, dependencies)
 * are recorded as cancelled rather than succeeded (see migration 0012). The setting is transaction-local
 * and cleared again right after, so later statements of the caller's transaction are not affected.
 */
export async function cancelling<R>(tx: Executor, fn: () => Promise<R>): Promise<R> {
  await tx.query(`SELECT set_config('arbiter.finish', 'cancelled', true)`);
  const out = await fn();
  await tx.query(`SELECT set_config('arbiter.finish', '', true)`);
  return out;
}

/**
 * Deletes the listed jobs that have no children (a parent is refused: use cascade), then wakes every
 * parent left with no children. "Has children" is judged once, before any delete, so the result does not
 * depend on the order of `ids`. Tree locks: each job and its parent, ascending, as ack takes them.
 */
export async function jobCancelMany(tx: Executor, t: QueueTables, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const before = await parentsOf(tx, t, ids);
  if (before.size === 0) return 0;
  const parents = [...before.values()].filter((p): p is string => p !== null);
  await treeLock(tx, t, [...before.keys(), ...parents]);
  await lockForDelete(tx, t, [...before.keys()]);
  const childless = await tx.query<{ id: string }>(
    `SELECT j.id FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[])
       AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)`,
    [[...before.keys()]],
  );
  const targets = childless.rows.map((r) => r.id);
  if (targets.length === 0) return 0;
  const { rows } = await cancelling(tx, () =>
    tx.query<{ id: string; parent_id: string | null; leased: boolean }>(
      `DELETE FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[])
       RETURNING j.id, j.parent_id, j.leased_until IS NOT NULL AS leased`,
      [targets],
    ),
  );
  await notifyCancelled(tx, t, rows);
  const deleted = rows.map((r) => r.parent_id);
  const emptied = deleted.filter((p): p is string => p !== null);
  // A dedup replace may have re-parented a row between the first read and the row lock.
  const late = emptied.filter((p) => !parents.includes(p));
  if (late.length > 0) await treeLock(tx, t, late);
  await wakeParents(tx, t, emptied);
  return deleted.length;
}

export interface CascadeResult {
  deleted: number;
  /** The root's parent, when the root was a child (woken if it has no children left). */
  parentId: string | null;
}

/**
 * Deletes `rootId` and all its descendants in ONE statement (the self-referencing foreign key is checked
 * at statement end, so deletion order inside it does not matter). With `wakeParent`, the root's parent is
 * woken for its completion round when no siblings remain.
 */
export async function jobCancelCascade(
  tx: Executor,
  t: QueueTables,
  rootId: string,
  wakeParent: boolean,
): Promise<CascadeResult> {
  const subtree = `WITH RECURSIVE d(id) AS (
      SELECT j.id FROM ${t.jobs} j WHERE j.id = $1::bigint
      UNION
      SELECT c.id FROM ${t.jobs} c JOIN d ON c.parent_id = d.id
    )`;
  const found = await tx.query<{ id: string; parent_id: string | null }>(
    `${subtree} SELECT j.id, j.parent_id FROM ${t.jobs} j JOIN d ON d.id = j.id`,
    [rootId],
  );
  const root = found.rows.find((r) => r.id === rootId);
  if (!root) return { deleted: 0, parentId: null };
  const ids = found.rows.map((r) => r.id);
  // Ancestors before descendants: ids grow down a tree, and treeLock takes them in ascending order.
  await treeLock(tx, t, root.parent_id ? [root.parent_id, ...ids] : ids);
  await lockForDelete(tx, t, ids);
  const { rows } = await cancelling(tx, () =>
    tx.query<{ id: string; parent_id: string | null; leased: boolean }>(
      `${subtree} DELETE FROM ${t.jobs} j USING d WHERE j.id = d.id
       RETURNING j.id, j.parent_id, j.leased_until IS NOT NULL AS leased`,
      [rootId],
    ),
  );
  await notifyCancelled(tx, t, rows);
  const deletedRoot = rows.find((r) => r.id === rootId);
  const parentId = deletedRoot?.parent_id ?? null;
  if (wakeParent && parentId !== null) {
    if (parentId !== root.parent_id) await treeLock(tx, t, [parentId]);
    await wakeParents(tx, t, [parentId]);
  }
  return { deleted: rows.length, parentId };
}

/**
 * The root of the tree holding `id`: walks parent links up. UNION (not UNION ALL) stops on a cycle, which
 * a dedup replace that re-parents a job could in principle create; then `id` itself stands as the root.
 */
export async function jobTreeRoot(tx: Executor, t: QueueTables, id: string): Promise<string | null> {
  const { rows } = await tx.query<{ id: string; parent_id: string | null }>(
    `WITH RECURSIVE up(id, parent_id) AS (
       SELECT j.id, j.parent_id FROM ${t.jobs} j WHERE j.id = $1::bigint
       UNION
       SELECT p.id, p.parent_id FROM ${t.jobs} p JOIN up ON p.id = up.parent_id
     ) SELECT id, parent_id FROM up`,
    [id],
  );
  if (rows.length === 0) return null;
  return rows.find((r) => r.parent_id === null)?.id ?? id;
}

/** The payload prefix of a cancellation notice (queue names start with a letter: no wake-up looks like it). */
export const CANCEL_NOTICE = '!cancel:';

/** Ids per notice: a NOTIFY payload must stay under 8,000 bytes. */
const IDS_PER_NOTICE = 300;

/**
 * Tells the workers holding deleted in-flight jobs (leased, or with a lease expired but not yet
 * recovered) that they were cancelled: `!cancel:<queue>:<id>,<id>…` on the schema's wake-up channel,
 * delivered at commit (nothing is sent if the transaction rolls back). Deleting jobs that nobody holds
 * sends nothing, so plain cancels pay nothing for it.
 */
export async function notifyCancelled(
  tx: Executor,
  t: QueueTables,
  deleted: readonly { id: string; leased: boolean }[],
): Promise<void> {
  const ids = deleted.filter((r) => r.leased).map((r) => r.id);
  for (let i = 0; i < ids.length; i += IDS_PER_NOTICE) {
    const payload = `${CANCEL_NOTICE}${t.queue}:${ids.slice(i, i + IDS_PER_NOTICE).join(',')}`;
    await tx.query('SELECT pg_notify($1, $2)', [notifyChannel(t.schema), payload]);
  }
}

/** Parses a cancellation notice; null for any other payload (a wake-up names a queue). */
export function parseCancelNotice(payload: string): { queue: string; ids: string[] } | null {
  if (!payload.startsWith(CANCEL_NOTICE)) return null;
  const rest = payload.slice(CANCEL_NOTICE.length);
  const colon = rest.indexOf(':');
  if (colon <= 0) return null;
  const ids = rest
    .slice(colon + 1)
    .split(',')
    .filter((id) => /^[0-9]+$/.test(id));
  return { queue: rest.slice(0, colon), ids };
}
