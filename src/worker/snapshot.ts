import type { Running } from './heartbeat.js';
import type { ResolvedOptions } from './options.js';

/** Most running jobs a worker lists in its registry row (the counts are always complete). */
export const MAX_LISTED_JOBS = 50;

/** What a worker runs now and its limits, as written to its `_workers` row at each heartbeat. */
export interface WorkerSnapshot {
  /** Handlers the worker runs at once, over all its queues. */
  concurrency: number;
  /** Jobs running now (started handlers). */
  running: number;
  /** Jobs claimed and waiting in the worker for a free slot (prefetched, not started). */
  prefetched: number;
  queues: {
    name: string;
    /** The queue's own limit of jobs at once in this worker. */
    concurrency: number;
    /** Jobs claimed ahead per free slot. */
    prefetch: number;
    /** Jobs of this queue running now. */
    running: number;
  }[];
  /** The running jobs (at most MAX_LISTED_JOBS): queue, id, attempt, when it was claimed (ISO). */
  jobs: { queue: string; id: string; attempt: number; claimedAt: string | null }[];
}

export function workerSnapshot(
  o: ResolvedOptions,
  running: Iterable<Running>,
  prefetched: number,
): WorkerSnapshot {
  const perQueue = new Map<string, number>();
  const jobs: WorkerSnapshot['jobs'] = [];
  let total = 0;
  for (const r of running) {
    perQueue.set(r.queue.name, (perQueue.get(r.queue.name) ?? 0) + r.jobs.length);
    total += r.jobs.length;
    for (const j of r.jobs) {
      if (jobs.length < MAX_LISTED_JOBS) {
        jobs.push({
          queue: r.queue.name,
          id: j.id,
          attempt: j.attempts,
          claimedAt: j.claimedAt ? j.claimedAt.toISOString() : null,
        });
      }
    }
  }
  return {
    concurrency: o.concurrency,
    running: total,
    prefetched,
    queues: o.queues.map((q) => ({
      name: q.name,
      concurrency: q.concurrency,
      prefetch: q.prefetch,
      running: perQueue.get(q.name) ?? 0,
    })),
    jobs,
  };
}
