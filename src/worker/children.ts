import type { Queue } from '../client/queue.js';
import { mergeChildOutcomes } from '../core/child-results.js';
import type { ChildOutcome, Job, JobId } from '../types.js';

/**
 * A rollup parent's merged child outcomes for its completion round (queue.results): each child's stored
 * result, or its error when it was dead-lettered, with precedence DLQ errors > results > snapshot.
 */
export async function loadChildOutcomes(queue: Queue<unknown>, job: Job): Promise<Map<JobId, ChildOutcome>> {
  const raw = await queue.results.readChildOutcomesRaw(job.id);
  return mergeChildOutcomes(raw.results, raw.dlqErrors, raw.snapshot);
}
