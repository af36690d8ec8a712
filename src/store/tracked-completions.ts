import type { Fence } from '../core/fence.js';
import { jobAck } from '../db/queries/job-complete.js';
import { jobCopyToHistory } from '../db/queries/job-history.js';
import { trackedAckMany, trackedStageResult } from '../db/queries/tracked.js';
import type { Executor } from '../db/executor.js';
import type { QueueTables } from '../db/sql.js';
import type { StoreAction, StoreCompletion } from './completion.js';

/** What tracked completions need of the queue's store (the JobStore that calls them). */
interface TrackedStore {
  readonly db: Executor;
  readonly t: QueueTables;
  run<R>(fn: () => Promise<R>): Promise<R>;
}

// The completions of tracked jobs (awaited results, flow nodes, dependencies; migration 0012): their
// result is written with the delete, so the delete's trigger records them succeeded with it.

class Fenced extends Error {}

function resultOf(action: StoreAction): string | null {
  return action.type === 'ack' || action.type === 'keep' ? action.result : null;
}

/**
 * Successes of tracked jobs: the ungrouped standalone acks in one statement that deletes them and writes
 * their results (trackedAckMany); the others (grouped, in a tree, kept) one transaction each, the result
 * written first, then the keep or smart ack. Resolves, per item, whether it was written.
 */
export async function completeTracked(
  store: TrackedStore,
  items: readonly StoreCompletion[],
): Promise<boolean[]> {
  const out = new Array<boolean>(items.length).fill(false);
  const fast = items.flatMap((c, i) => (c.action.type === 'ack' && !c.inTree ? [i] : []));
  const done = new Set(
    fast.length === 0
      ? []
      : await store.run(() =>
          trackedAckMany(
            store.db,
            store.t,
            fast.map((i) => ({ ...items[i]!.fence, result: resultOf(items[i]!.action) })),
          ),
        ),
  );
  for (let i = 0; i < items.length; i++) {
    const c = items[i]!;
    if (done.has(c.fence.id)) out[i] = true;
    else out[i] = await finishTracked(store, c.fence, resultOf(c.action), c.action.type === 'keep');
  }
  return out;
}

/** One tracked success in a transaction: the result written (fenced), then the keep or smart ack. */
export async function finishTracked(
  store: TrackedStore,
  fence: Fence,
  result: string | null,
  keep: boolean,
): Promise<boolean> {
  try {
    return await store.run(() =>
      store.db.transaction(async (tx) => {
        await trackedStageResult(tx, store.t, fence, result);
        if (keep) await jobCopyToHistory(tx, store.t, fence, result);
        if ((await jobAck(tx, store.t, fence, result ?? undefined, { inTree: true })) === 0)
          throw new Fenced();
        return true;
      }),
    );
  } catch (err) {
    if (err instanceof Fenced) return false;
    throw err;
  }
}
