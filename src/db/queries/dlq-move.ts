import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { treeLock, wakeParents } from './tree.js';
import { held } from './fence.js';
import { fencedTargetsSql } from './job-complete.js';
import { queueStatsAddDead } from './queue-stats.js';

/** One job to dead-letter: the fence it was claimed at and the error to record (already truncated). */
export interface DlqMoveItem {
  id: string;
  attempts: number;
  error: string;
}

/** The error recorded on descendants moved along with a dead-lettered ancestor. */
export function cascadeError(ancestorId: string): string {
  return `ancestor ${ancestorId} was dead-lettered`;
}

export const REAP_ERROR = 'lease expired on the final attempt (worker lost)';

interface Head {
  id: string;
  parent_id: string | null;
  group_key: string | null;
  has_children: boolean;
  /** Still names the worker that claimed it: no worker wrote an outcome for this attempt. */
  unfinished: boolean;
}

interface Descendant {
  id: string;
  root: string;
  group_key: string | null;
  has_children: boolean;
}

// The fence of every caller-driven DLQ write (see job-complete.ts). The reaper adds "and the lease has
// expired on the final attempt", so a job re-leased or retried in between is left alone.
const FENCE = `j.attempts = u.attempts AND ${held('j')}`;
const REAPABLE = `AND j.leased_until <= now() AND j.attempts >= j.max_attempts`;

function fencedItems(t: QueueTables, reap: boolean, lock: string): string {
  return `SELECT j.id, j.parent_id, j.group_key,
         EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id) AS has_children,
         j.worker_id IS NOT NULL AS unfinished
       FROM ${t.jobs} j JOIN unnest($1::bigint[], $2::int[]) AS u(id, attempts) ON j.id = u.id
       WHERE ${FENCE} ${reap ? REAPABLE : ''}
       ORDER BY j.id ${lock}`;
}

/**
 * Descendants of `roots` still in the queue, each with the root whose cascade reaches it. The walk stops at
 * other roots (they are moved with their own error and cascade their own subtree).
 */
async function descendants(tx: Executor, t: QueueTables, roots: readonly string[]): Promise<Descendant[]> {
  const { rows } = await tx.query<Descendant>(
    `WITH RECURSIVE d(id, root) AS (
       SELECT c.id, c.parent_id FROM ${t.jobs} c WHERE c.parent_id = ANY($1::bigint[]) AND c.id <> ALL($1::bigint[])
       UNION
       SELECT c.id, d.root FROM ${t.jobs} c JOIN d ON c.parent_id = d.id WHERE c.id <> ALL($1::bigint[])
     )
     SELECT j.id, d.root, j.group_key, EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id) AS has_children
     FROM ${t.jobs} j JOIN d ON d.id = j.id ORDER BY j.id`,
    [roots],
  );
  return rows;
}

/**
 * Moves fenced jobs to the dead-letter table, each with its
 * descendants (cascade: the foreign key forbids orphans, and a tree whose ancestor is dead cannot finish).
 * Jobs whose fence no longer holds are skipped and cause nothing, not even a cascade. A moved job's
 * stored child results are snapshotted into its parent_state, so a retried rollup finalizer still sees
 * them. Parents of moved children are woken when no sibling remains. Returns the ids of the `items` that
 * moved (descendants moved by cascade are not listed).
 *
 * Lock order, shared with ack and the other tree operations: tree locks (ascending ids: parents before
 * children, since a child's id is always larger), then job rows (the items, then their descendants, each
 * ascending), then group rows (by key), so concurrent batches over overlapping trees and groups cannot
 * deadlock. `reap` picks expired final attempts instead, skipping rows someone else holds.
 */
export async function dlqMoveFenced(
  tx: Executor,
  t: QueueTables,
  input: readonly DlqMoveItem[],
  reap = false,
): Promise<string[]> {
  return (await moveFenced(tx, t, input, reap)).map((h) => h.id);
}

/** dlqMoveFenced, returning the rows of the items moved, as they were locked. */
async function moveFenced(
  tx: Executor,
  t: QueueTables,
  input: readonly DlqMoveItem[],
  reap: boolean,
): Promise<Head[]> {
  // A job listed twice is moved once, with the first error given for it.
  const byId = new Map<string, DlqMoveItem>();
  for (const i of input) if (!byId.has(i.id)) byId.set(i.id, i);
  const items = [...byId.values()];
  if (items.length === 0) return [];
  const args = [items.map((i) => i.id), items.map((i) => i.attempts)];

  // 1. Unlocked look: which items still hold their fence, and their subtrees, to know what to lock.
  const seen = await tx.query<Head>(fencedItems(t, reap, ''), args);
  if (seen.rows.length === 0) return [];
  const seenIds = seen.rows.map((h) => h.id);
  const seenDesc = seen.rows.some((h) => h.has_children) ? await descendants(tx, t, seenIds) : [];
  const treeLocked = new Set<string>([
    ...seen.rows.flatMap((h) => (h.parent_id ? [h.parent_id, h.id] : [h.id])),
    // Leaves' acks lock their parent first, so only inner nodes of the subtree need their own lock.
    ...seenDesc.filter((d) => d.has_children).map((d) => d.id),
  ]);
  await treeLock(tx, t, [...treeLocked]);

  // 2. Under the tree locks: re-check each fence and lock the rows. A parent that changed since the look
  //    (replace-dedup can move a job) is not locked by us, so that item is skipped like a lost lease.
  const locked = await tx.query<Head>(
    fencedItems(t, reap, reap ? 'FOR UPDATE OF j SKIP LOCKED' : 'FOR UPDATE OF j'),
    args,
  );
  const lookedParent = new Map(seen.rows.map((h) => [h.id, h.parent_id] as const));
  const heads = locked.rows.filter((h) => lookedParent.has(h.id) && lookedParent.get(h.id) === h.parent_id);
  if (heads.length === 0) return [];
  const headIds = heads.map((h) => h.id);
  const desc = heads.some((h) => h.has_children) ? await descendants(tx, t, headIds) : [];
  if (desc.length > 0) {
    // Inner nodes that appeared after the look (rare) get their tree lock before any descendant row lock.
    await treeLock(
      tx,
      t,
      desc.filter((d) => d.has_children && !treeLocked.has(d.id)).map((d) => d.id),
    );
    await tx.query(`SELECT 1 FROM ${t.jobs} j WHERE j.id = ANY($1::bigint[]) ORDER BY j.id FOR UPDATE`, [
      desc.map((d) => d.id),
    ]);
  }

  const groupKeys = [
    ...new Set([...heads, ...desc].flatMap((r) => (r.group_key === null ? [] : [r.group_key]))),
  ];
  if (groupKeys.length > 1) {
    // The delete's triggers update group rows in row order; take them in key order first instead.
    await tx.query(
      `SELECT 1 FROM ${t.groups} g WHERE g.group_key = ANY($1::text[]) ORDER BY g.group_key FOR NO KEY UPDATE`,
      [groupKeys],
    );
  }

  const ids = [...headIds, ...desc.map((d) => d.id)];
  const errors = [...heads.map((h) => byId.get(h.id)!.error), ...desc.map((d) => cascadeError(d.root))];
  await moveRows(tx, t, ids, errors);
  await wakeParents(
    tx,
    t,
    heads.flatMap((h) => (h.parent_id ? [h.parent_id] : [])),
  );
  return heads;
}

/**
 * dlqMoveFenced for the dead letters no worker decided (the reaper's, stale recovery's), counted in the
 * queue's throughput history in the same transaction, so each is counted once, or not at all when its
 * move is rolled back. Each moved job counts as dead, and as a failed attempt too unless a worker already
 * counted one for it (a handler that failed its final attempt and left it to the reaper: the job no
 * longer names a worker). Descendants moved along are not counted, as for a worker's dead letter.
 */
async function moveCounted(
  db: Executor,
  t: QueueTables,
  items: readonly DlqMoveItem[],
  reap: boolean,
): Promise<number> {
  return db.transaction(async (tx) => {
    const heads = await moveFenced(tx, t, items, reap);
    if (heads.length > 0) {
      const failed = heads.filter((h) => h.unfinished).length;
      await queueStatsAddDead(tx, t.schema, t.queue, failed, heads.length);
    }
    return heads.length;
  });
}

/**
 * Dead-letters held jobs as stale recovery does (claimed too long ago): fenced like any move, and counted
 * in the throughput history (see moveCounted). Returns how many of `items` moved.
 */
export function dlqMoveStale(db: Executor, t: QueueTables, items: readonly DlqMoveItem[]): Promise<number> {
  return moveCounted(db, t, items, false);
}

/**
 * Deletes the rows and inserts their dead letters in one statement: the dead letters are exactly what was
 * deleted, and the parent/child foreign key is checked once, after the whole subtree is gone. Each row's
 * child results (about to be removed by ON DELETE CASCADE, but still visible to this statement) are
 * merged over its existing parent_state snapshot.
 */
async function moveRows(tx: Executor, t: QueueTables, ids: string[], errors: string[]): Promise<void> {
  await tx.query(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS u(id, err)),
     moved AS (
       DELETE FROM ${t.jobs} j USING u WHERE j.id = u.id
       RETURNING j.id, j.payload, j.group_key, j.priority, j.attempts, j.max_attempts, u.err, j.dedup_key,
         j.idempotency_key, j.parent_id, j.is_rollup, j.parent_state, j.meta, j.created_at
     ),
     ${insertMovedSql(t)}`,
    [ids, errors],
  );
}

/**
 * The end of a move statement whose `moved` CTE returned the deleted rows, each with its error as `err`:
 * one dead letter per row, its child results (removed by ON DELETE CASCADE, but still visible to this
 * statement) merged over its parent_state snapshot.
 */
function insertMovedSql(t: QueueTables): string {
  return `snap AS (
       SELECT r.parent_id, jsonb_object_agg(r.child_id::text, r.result ORDER BY r.child_id) AS agg
       FROM ${t.results} r WHERE r.parent_id IN (SELECT id FROM moved) GROUP BY r.parent_id
     )
     INSERT INTO ${t.dlq} (job_id, payload, group_key, priority, attempts, max_attempts, last_error, dedup_key,
       idempotency_key, parent_id, is_rollup, parent_state, meta, created_at)
     SELECT m.id, m.payload, m.group_key, m.priority, m.attempts, m.max_attempts, m.err, m.dedup_key,
       m.idempotency_key, m.parent_id, m.is_rollup,
       CASE WHEN s.agg IS NULL THEN m.parent_state
            WHEN jsonb_typeof(m.parent_state) = 'object' THEN m.parent_state || s.agg
            ELSE s.agg END,
       m.meta, m.created_at
     FROM moved m LEFT JOIN snap s ON s.parent_id = m.id
     ORDER BY m.id`;
}

/**
 * Fast path for one standalone job (no parent, no children): fence, delete and insert in one statement.
 * Returns false when the job is not standalone or lost its fence; the caller then takes the full path.
 */
export async function dlqMoveStandalone(db: Executor, t: QueueTables, item: DlqMoveItem): Promise<boolean> {
  const res = await db.query(
    `WITH moved AS (
       DELETE FROM ${t.jobs} j
       WHERE j.id = $1 AND j.attempts = $2 AND ${held('j')} AND j.parent_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.*
     ),
     snap AS (SELECT jsonb_object_agg(r.child_id::text, r.result ORDER BY r.child_id) AS agg
              FROM ${t.results} r WHERE r.parent_id = $1)
     INSERT INTO ${t.dlq} (job_id, payload, group_key, priority, attempts, max_attempts, last_error, dedup_key,
       idempotency_key, parent_id, is_rollup, parent_state, meta, created_at)
     SELECT m.id, m.payload, m.group_key, m.priority, m.attempts, m.max_attempts, $3, m.dedup_key,
       m.idempotency_key, m.parent_id, m.is_rollup,
       CASE WHEN s.agg IS NULL THEN m.parent_state
            WHEN jsonb_typeof(m.parent_state) = 'object' THEN m.parent_state || s.agg
            ELSE s.agg END,
       m.meta, m.created_at
     FROM moved m CROSS JOIN snap s`,
    [item.id, item.attempts, item.error],
    `${t.statementPrefix}dlq:move:standalone`,
  );
  return res.rowCount > 0;
}

/**
 * The fast path for many: fences, deletes and inserts every standalone job among `items` in one statement
 * (their group rows locked in key order first, like every multi-row write). Returns the ids moved; the
 * others (in a tree, or fenced off) are left for dlqMoveFenced.
 */
export async function dlqMoveStandaloneMany(
  db: Executor,
  t: QueueTables,
  items: readonly DlqMoveItem[],
): Promise<string[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(id, attempts, err)),
     ${fencedTargetsSql(t, 'FOR UPDATE')},
     moved AS (
       DELETE FROM ${t.jobs} j USING u
       WHERE j.id = u.id AND j.id = ANY (ARRAY(SELECT id FROM target)) AND (SELECT count(*) FROM group_locks) >= 0
         AND j.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = j.id)
       RETURNING j.*, u.err
     ),
     ${insertMovedSql(t)}
     RETURNING job_id::text AS id`,
    [items.map((i) => i.id), items.map((i) => i.attempts), items.map((i) => i.error)],
    `${t.statementPrefix}dlq:move:standalone-many`,
  );
  return rows.map((r) => r.id);
}

/**
 * Dead-letters jobs whose lease expired on their final attempt (the claim will never take them again):
 * up to `limit` per call, oldest id first, with the same tree semantics as a fenced move, counted in the
 * throughput history (see moveCounted). Returns how many were moved.
 */
export async function dlqReapExhausted(db: Executor, t: QueueTables, limit: number): Promise<number> {
  const { rows } = await db.query<{ id: string; attempts: number }>(
    `SELECT j.id, j.attempts FROM ${t.jobs} j
     WHERE j.leased_until <= now() AND j.attempts >= j.max_attempts ORDER BY j.id LIMIT $1`,
    [limit],
  );
  if (rows.length === 0) return 0;
  return moveCounted(
    db,
    t,
    rows.map((r) => ({ id: r.id, attempts: r.attempts, error: REAP_ERROR })),
    true,
  );
}
