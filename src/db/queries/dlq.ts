import type { FilterSpec } from '../../core/job-filter.js';
import { TRACK_META_KEY } from '../../core/tracking.js';
import { trackedRequeue } from './tracked.js';
import type { Executor } from '../executor.js';
import { dlqColumns, jobColumns, type DeadJobRow, type JobRow } from '../rows.js';
import type { QueueTables } from '../sql.js';
import { SqlParams, filterWhere } from './filters.js';
import { treeLock, wakeParents } from './tree.js';

// Reads, retries and deletes on a queue's dead-letter table. Moving jobs in
// lives in dlq-move.ts.
//
// Lock order for existing dead-letter rows: the rows first (ascending dead-letter id), then tree locks
// (ascending job ids). Moves never lock existing dead-letter rows, so the two orders cannot cross.

export async function dlqExists(db: Executor, t: QueueTables, id: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${t.dlq} d WHERE d.id = $1::bigint) AS found`,
    [id],
  );
  return rows[0]?.found ?? false;
}

export async function dlqGet(db: Executor, t: QueueTables, id: string): Promise<DeadJobRow | null> {
  const { rows } = await db.query<DeadJobRow>(
    `SELECT ${dlqColumns('d')} FROM ${t.dlq} d WHERE d.id = $1::bigint`,
    [id],
  );
  return rows[0] ?? null;
}

/** Where a page of the failed_at DESC, id DESC listing stops: failed_at as ISO text with microseconds. */
export interface DlqKeyset {
  failedAt: string;
  id: string;
}

export type DeadJobPageRow = DeadJobRow & { failed_at_key: string };

/**
 * Most recently failed first, keyset-paginated on (failed_at, id), which the failed_idx serves. The key is
 * returned as UTC text with microseconds: a JS Date would round it to milliseconds and skip or repeat
 * rows that failed within the same millisecond.
 */
export async function dlqList(
  db: Executor,
  t: QueueTables,
  spec: FilterSpec,
  after: DlqKeyset | null,
  limit: number,
): Promise<DeadJobPageRow[]> {
  const p = new SqlParams();
  const where = filterWhere(t, 'dlq', spec, 'd', p);
  const keyset =
    after === null
      ? ''
      : ` AND (d.failed_at, d.id) < (${p.add(after.failedAt)}::timestamptz, ${p.add(after.id)}::bigint)`;
  const { rows } = await db.query<DeadJobPageRow>(
    `SELECT ${dlqColumns('d')},
       to_char(d.failed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS failed_at_key
     FROM ${t.dlq} d WHERE ${where}${keyset}
     ORDER BY d.failed_at DESC, d.id DESC LIMIT ${p.add(limit)}::int`,
    p.values,
  );
  return rows;
}

export async function dlqCount(db: Executor, t: QueueTables, spec: FilterSpec): Promise<number> {
  const p = new SqlParams();
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${t.dlq} d WHERE ${filterWhere(t, 'dlq', spec, 'd', p)}`,
    p.values,
  );
  return Number(rows[0]?.n ?? 0);
}

/** A dead letter locked for a retry: what deciding the new job needs. */
interface LockedDead {
  id: string;
  job_id: string;
  parent_id: string | null;
  idempotency_key: string | null;
  failed_at: Date;
}

/**
 * Locks the given dead letters and their dead children (whose parent id a retry re-points), in ascending
 * dead-letter id order, the order every multi-row dead-letter write uses.
 */
async function lockForRetry(tx: Executor, t: QueueTables, ids: readonly string[]): Promise<LockedDead[]> {
  const { rows } = await tx.query<LockedDead>(
    `SELECT d.id, d.job_id, d.parent_id, d.idempotency_key, d.failed_at FROM ${t.dlq} d
     WHERE d.id = ANY($1::bigint[])
        OR d.parent_id IN (SELECT x.job_id FROM ${t.dlq} x WHERE x.id = ANY($1::bigint[]))
     ORDER BY d.id FOR UPDATE`,
    [ids],
  );
  return rows;
}

/** The retry itself, on a locked dead letter whose parent's tree lock is held. */
async function retryLocked(
  tx: Executor,
  t: QueueTables,
  dead: LockedDead,
  hasDeadChildren: boolean,
): Promise<JobRow> {
  // Copied inside the database, so payloads keep numbers JavaScript cannot represent exactly.
  const insert = (withKey: boolean) =>
    tx.query<JobRow>(
      `INSERT INTO ${t.jobs} AS j (payload, group_key, priority, max_attempts, idempotency_key, parent_id, is_rollup,
         parent_state, meta)
       SELECT d.payload, d.group_key, d.priority, d.max_attempts, ${withKey ? 'd.idempotency_key' : 'NULL'},
         (SELECT p.id FROM ${t.jobs} p WHERE p.id = d.parent_id), d.is_rollup, d.parent_state, d.meta
       FROM ${t.dlq} d WHERE d.id = $1::bigint
       ${withKey ? 'ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING' : ''}
       RETURNING ${jobColumns('j')}`,
      [dead.id],
    );
  // The key comes back only if no live job took it meanwhile; ON CONFLICT also covers a concurrent insert.
  let row = dead.idempotency_key !== null ? (await insert(true)).rows[0] : undefined;
  row ??= (await insert(false)).rows[0];
  if (!row) throw new Error('dead-letter retry inserted no row');
  if (row.parent_id !== null) await rewaitParent(tx, t, row.parent_id, dead.failed_at);
  // An awaited job or a flow node: its record follows it, and what its failure cancelled waits again.
  if (row.meta !== null && row.meta[TRACK_META_KEY] !== undefined) {
    await trackedRequeue(tx, t.schema, t.queue, dead.job_id, row.id);
  }
  await tx.query(`DELETE FROM ${t.dlq} d WHERE d.id = $1::bigint`, [dead.id]);
  if (hasDeadChildren) {
    await tx.query(`UPDATE ${t.dlq} d SET parent_id = $2::bigint WHERE d.parent_id = $1::bigint`, [
      dead.job_id,
      row.id,
    ]);
  }
  return row;
}

/**
 * A retried child brings its parent back to waiting for it. A parent woken for its completion round
 * (ready, or running it) is suspended again and runs one round once the child has finished. A round in
 * progress is fenced off (its attempt is bumped, its lease ended, its budget kept), so whatever its
 * worker writes afterwards (ack, retry, dead-letter, lease extension) changes nothing: it saw the child
 * as failed, and the round to come replaces it. A run that started before the child failed (a parent
 * that added children while it ran) is left to finish: its ack finds the child and waits for it. A
 * parent already waiting (for other children, or suspended by an operator) is left as it is. Runs
 * under the parent's tree lock.
 */
async function rewaitParent(
  tx: Executor,
  t: QueueTables,
  parentId: string,
  childFailedAt: Date,
): Promise<void> {
  await tx.query(
    `UPDATE ${t.jobs} p SET suspended = true,
       attempts = p.attempts + (p.leased_until IS NOT NULL)::int,
       max_attempts = p.max_attempts + (p.leased_until IS NOT NULL)::int,
       leased_until = NULL, worker_id = NULL, run_at = now(), updated_at = now()
     WHERE p.id = $1::bigint AND NOT p.suspended
       AND (p.leased_until IS NULL OR p.claimed_at >= $2::timestamptz)`,
    [parentId, childFailedAt],
  );
}

/**
 * Re-inserts a dead letter as a new job and removes the dead letter, atomically.
 * The new job has a new id, attempts 0, no error and no dedup key (it must not collide with new dedup
 * inserts); its idempotency key comes back only if no live job holds it now; its parent is kept only if
 * that parent is still in the queue, and then waits for it again (see rewaitParent); its parent_state
 * snapshot is kept. Dead children of the old job are
 * re-pointed to the new one, so a retried rollup finalizer still sees their errors (and retrying one of
 * them later attaches it to the new parent). Returns null when the dead letter does not exist.
 */
export async function dlqRetry(tx: Executor, t: QueueTables, id: string): Promise<JobRow | null> {
  const locked = await lockForRetry(tx, t, [id]);
  const dead = locked.find((r) => r.id === id);
  if (!dead) return null;
  // The parent's fate (ack, wake, cancel) is decided under its tree lock; attach the child under it too.
  if (dead.parent_id !== null) await treeLock(tx, t, [dead.parent_id]);
  return retryLocked(tx, t, dead, locked.length > 1);
}

/**
 * dlqRetry for many dead letters in one transaction (the caller's). Every dead letter (and dead child)
 * is locked first, in id order, then every parent's tree lock, in id order, so concurrent bulk retries
 * over overlapping sets cannot deadlock. A dead parent is retried before its dead children given in the
 * same call, so they attach to the new parent. Returns dead-letter id → new job row; ids not in the
 * table are absent.
 */
export async function dlqRetryMany(
  tx: Executor,
  t: QueueTables,
  ids: readonly string[],
): Promise<Map<string, JobRow>> {
  const out = new Map<string, JobRow>();
  if (ids.length === 0) return out;
  const locked = await lockForRetry(tx, t, ids);
  const wanted = new Set(ids);
  const items = locked.filter((r) => wanted.has(r.id));
  if (items.length === 0) return out;
  await treeLock(
    tx,
    t,
    items.flatMap((r) => (r.parent_id === null ? [] : [r.parent_id])),
  );
  // Parents first: depth within the batch (a dead letter whose parent is another item's old job id).
  const byJobId = new Map(items.map((r) => [r.job_id, r] as const));
  const depth = (r: LockedDead): number => {
    let d = 0;
    for (let p = r.parent_id; p !== null && byJobId.has(p) && d <= items.length; d++)
      p = byJobId.get(p)!.parent_id;
    return d;
  };
  const ordered = items
    .map((r) => ({ r, d: depth(r) }))
    .sort((a, b) => a.d - b.d || (BigInt(a.r.id) < BigInt(b.r.id) ? -1 : 1))
    .map((x) => x.r);
  const parentOf = new Map(locked.map((r) => [r.id, r.parent_id] as const));
  for (const dead of ordered) {
    const current = { ...dead, parent_id: parentOf.get(dead.id) ?? null };
    // A parent retried earlier in this loop is a new job of this transaction: lock it like any parent.
    if (current.parent_id !== null && current.parent_id !== dead.parent_id) {
      await treeLock(tx, t, [current.parent_id]);
    }
    const hasDeadChildren = locked.some((r) => parentOf.get(r.id) === dead.job_id);
    const row = await retryLocked(tx, t, current, hasDeadChildren);
    // Mirror the re-pointing done in the table, for the children still to come.
    if (hasDeadChildren) {
      for (const r of locked) if (parentOf.get(r.id) === dead.job_id) parentOf.set(r.id, row.id);
    }
    out.set(dead.id, row);
  }
  return out;
}

/**
 * Deletes dead letters. A deleted child's parent resumes for
 * its completion round when it is waiting and no sibling is left in the queue. Parents are locked
 * deduplicated and in ascending order, so concurrent batch deletes cannot deadlock. Returns how many
 * dead letters were deleted.
 */
export async function dlqDelete(tx: Executor, t: QueueTables, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await tx.query(`SELECT 1 FROM ${t.dlq} d WHERE d.id = ANY($1::bigint[]) ORDER BY d.id FOR UPDATE`, [ids]);
  const { rows } = await tx.query<{ parent_id: string | null }>(
    `DELETE FROM ${t.dlq} d WHERE d.id = ANY($1::bigint[]) RETURNING d.parent_id`,
    [ids],
  );
  const parents = rows.flatMap((r) => (r.parent_id === null ? [] : [r.parent_id]));
  if (parents.length > 0) {
    await treeLock(tx, t, parents);
    await wakeParents(tx, t, parents);
  }
  return rows.length;
}
