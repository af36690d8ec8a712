import type { Fence } from '../core/fence.js';
import type { ProgressWrite } from '../db/queries/job-progress.js';

/**
 * What a worker writes when a run ends, as the store takes it: results already encoded as JSON text.
 * - `ack`     finished: deleted, or, for a job in a tree, the smart ack (a parent with children waits for
 *             them; a child stores `result` for its parent and wakes it when it was the last)
 * - `keep`    finished and moved to the history table with `result`
 * - `retry`   released to run again after `delayMs`, the attempt spent, `error` recorded
 * - `snooze`  released to run again after `delayMs`, the attempt refunded (`note` recorded when given)
 * - `dead`    moved to the dead-letter table with its descendants
 */
export type StoreAction =
  | { type: 'ack'; result: string | null }
  | { type: 'keep'; result: string | null }
  | { type: 'retry'; delayMs: number; error: string }
  | { type: 'snooze'; delayMs: number; note: string | null }
  | { type: 'dead'; error: string };

/** One completion: the fenced job, whether it is in a tree (has a parent, or is a rollup), and what to write. */
export interface StoreCompletion {
  fence: Fence;
  inTree: boolean;
  /** Someone waits for this job (awaited result, flow node, dependency): its result is recorded. */
  tracked?: boolean;
  action: StoreAction;
  /** The job's last report (ctx.progress / setMeta / log), written with the outcome, under its fence. */
  report?: ProgressWrite;
}
