import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { treeLockKey } from '../sql.js';

/**
 * Serializes everything that decides a parent's fate (its own ack, its children's acks, dead-letters,
 * cancels and deletes) with a transaction-scoped advisory lock on the parent id. Callers lock ancestors
 * before descendants and several parents in ascending id order, so these locks cannot deadlock.
 */
export async function treeLock(tx: Executor, t: QueueTables, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const sorted = [...new Set(ids)].sort((a, b) =>
    BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0,
  );
  await tx.query(
    `SELECT pg_advisory_xact_lock(hashtextextended($1 || k::text, 0)) FROM unnest($2::bigint[]) WITH ORDINALITY AS u(k, o)
     ORDER BY o`,
    [treeLockKey(t), sorted],
  );
}

/**
 * Wakes each given parent for its completion round when it is suspended and none of its children remain
 * in the queue (children in the dead-letter table do not hold it back: the finalizer sees their errors).
 * Must run after treeLock on the same parents. Returns the ids woken.
 */
export async function wakeParents(
  tx: Executor,
  t: QueueTables,
  parentIds: readonly string[],
): Promise<string[]> {
  if (parentIds.length === 0) return [];
  const { rows } = await tx.query<{ id: string }>(
    `UPDATE ${t.jobs} p SET suspended = false, run_at = now(), updated_at = now()
     WHERE p.id = ANY($1::bigint[]) AND p.suspended AND p.leased_until IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = p.id)
     RETURNING p.id`,
    [[...new Set(parentIds)]],
  );
  return rows.map((r) => r.id);
}

/** Ids of all descendants of `rootId` still in the queue (not including the root). */
export async function descendantIds(tx: Executor, t: QueueTables, rootId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `WITH RECURSIVE d(id) AS (
       SELECT c.id FROM ${t.jobs} c WHERE c.parent_id = $1
       UNION
       SELECT c.id FROM ${t.jobs} c JOIN d ON c.parent_id = d.id
     ) SELECT id FROM d`,
    [rootId],
  );
  return rows.map((r) => r.id);
}
