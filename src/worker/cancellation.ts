import type { Running } from './heartbeat.js';
import type { WorkerEventEmitter } from './events.js';
import { JobAbortError } from './runner.js';

/**
 * A cancellation notice reached this worker: jobs of `queue` were deleted while leased. Each run holding
 * one is aborted with reason `cancelled` (a batch only when every job in it was cancelled: its other jobs
 * run on, and the cancelled ones' writes find no row). Nothing is written for a cancelled job; the
 * runner abandons it, and a late write would be fenced out anyway (the row is gone).
 */
export function abortCancelled(
  running: Iterable<Running>,
  queue: string,
  ids: readonly string[],
  events: WorkerEventEmitter,
): void {
  const wanted = new Set(ids);
  for (const r of running) {
    if (r.queue.name !== queue || r.controller.aborted) continue;
    const hit = r.jobs.filter((j) => wanted.has(j.id));
    if (hit.length === 0) continue;
    const all = hit.length === r.jobs.length;
    for (const job of hit) events.emit('job:cancelled', { queue, job, aborted: all });
    if (all) {
      const which = hit.length === 1 ? `job ${hit[0]!.id}` : `jobs ${hit.map((j) => j.id).join(', ')}`;
      r.controller.abort(new JobAbortError('cancelled', `${which} cancelled`));
    }
  }
}
