import {
  capDropOldest,
  capProbe,
  controlLock,
  debounceAbsorb,
  debounceStart,
  statBump,
  throttleReplaceTrailing,
  throttleSet,
  throttleState,
  uniqueState,
  uniqueTake,
  type ControlStat,
  type DepthCap,
} from '../db/queries/enqueue-controls.js';
import { jobInsert, type JobInsert } from '../db/queries/job-insert.js';
import type { Executor } from '../db/executor.js';
import { jobColumns, type JobRow } from '../db/rows.js';
import type { QueueTables } from '../db/sql.js';
import { QueueFullError } from '../errors.js';
import type { EnqueueOutcome } from '../types.js';

export interface ControlledResult {
  /** The job created or changed, or the one holding the key (null when it is gone). */
  row: JobRow | null;
  outcome: EnqueueOutcome;
}

/** Retry-After hint of a rejection: waiting jobs drain at the workers' pace, which we do not know. */
const RETRY_AFTER_MS = 1_000;

/**
 * One enqueue with a control and/or a depth cap, inside the transaction `db` is bound to (the caller opens
 * it). Locks: the cap's lock, then the key's (always in this order), then whatever the insert takes.
 * Throws QueueFullError (everything rolled back) when the cap holds and the policy cannot make room.
 */
export async function controlledInsert(
  db: Executor,
  t: QueueTables,
  row: JobInsert,
): Promise<ControlledResult> {
  const control = row.control ?? null;
  const plain: JobInsert = { ...row, control: null, cap: null };
  // The cap is checked only by an enqueue that is about to add a row: one folded into a pending job adds
  // nothing. Its lock is taken before the key's, so every capped enqueue takes the two in one order.
  if (row.cap) await controlLock(db, t, capLockKey(row));
  const insert = async (r: JobInsert): Promise<JobRow> => {
    if (row.cap) await makeRoom(db, t, row.cap, row.groupKey);
    const inserted = await jobInsert(db, t, r);
    if (!inserted) throw new Error('controlled insert wrote no row');
    return inserted;
  };
  if (control === null) return { row: await insert(plain), outcome: 'created' };
  await controlLock(db, t, `${control.kind}:${control.key}`);

  if (control.kind === 'unique') {
    const state = await uniqueState(db, t, control.key);
    if (state?.taken) {
      await statBump(db, t, 'unique_rejected', control.key);
      return { row: state.live ? await jobById(db, t, state.jobId!) : null, outcome: 'duplicate' };
    }
    const job = await insert(plain);
    await uniqueTake(db, t, control, job.id);
    return { row: job, outcome: 'created' };
  }

  if (control.kind === 'debounce') {
    const absorbed = await debounceAbsorb(db, t, control, row.payload, row.meta);
    if (absorbed) {
      await statBump(db, t, 'debounced', control.key);
      const { capped, ...job } = absorbed;
      return { row: job, outcome: capped ? 'absorbed' : 'replaced' };
    }
    const job = await insert({ ...plain, runAt: null, delayMs: control.windowMs });
    await debounceStart(db, t, control.key, job);
    return { row: job, outcome: 'created' };
  }

  const state = await throttleState(db, t, control.key);
  if (state === null || !state.open) {
    const job = await insert(plain);
    await throttleSet(db, t, control.key, job.id, control.windowMs, null);
    return { row: job, outcome: 'created' };
  }
  await statBump(db, t, 'throttled', control.key);
  if (!control.trailing) return { row: await jobById(db, t, state.jobId), outcome: 'throttled' };
  if (state.trailingPending) {
    const job = await throttleReplaceTrailing(db, t, state.jobId, row.payload, row.meta);
    if (job) return { row: job, outcome: 'replaced' };
  }
  // No trailing job waiting (or it was just claimed): one runs when the window ends, and opens the next.
  const job = await insert({ ...plain, runAt: state.expiresAt, delayMs: 0 });
  await throttleSet(db, t, control.key, job.id, control.windowMs, state.expiresAt);
  return { row: job, outcome: 'created' };
}

function capLockKey(row: JobInsert): string {
  return row.cap!.scope === 'group' ? `cap:g:${row.groupKey!}` : 'cap:q';
}

/** Under the cap's lock: room for one more waiting job, or QueueFullError (or, dropping, one job less). */
async function makeRoom(db: Executor, t: QueueTables, cap: DepthCap, groupKey: string | null): Promise<void> {
  const scopeKey = cap.scope === 'group' ? groupKey : null;
  if ((await capProbe(db, t, cap.limit, scopeKey)) < cap.limit) return;
  if (cap.overflow === 'dropOldest' && (await capDropOldest(db, t, scopeKey)) !== null) {
    await statBump(db, t, 'overflow_dropped', scopeKey ?? '');
    return;
  }
  throw new QueueFullError(t.queue, scopeKey, cap.limit, RETRY_AFTER_MS);
}

export const OVERFLOW_STAT: ControlStat = 'overflow_rejected';

async function jobById(db: Executor, t: QueueTables, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(`SELECT ${jobColumns('j')} FROM ${t.jobs} j WHERE j.id = $1`, [id]);
  return rows[0] ?? null;
}
