import { validateQueueName } from '../core/identifiers.js';
import { optionalInt } from '../core/validate.js';
import type { Executor } from '../db/executor.js';
import { queueGet } from '../db/queries/queue.js';
import { queueStatsHistory, WAIT_BOUNDS_MS, waitQuantile } from '../db/queries/queue-stats.js';
import { QueueNotFoundError } from '../errors.js';

/** Longest history one read covers: 7 days. */
export const MAX_HISTORY_MINUTES = 7 * 24 * 60;

export interface StatsHistoryOptions {
  /** One queue; default every queue, summed. */
  queue?: string;
  /** How far back, in minutes (1 to 10,080). Default 60. */
  minutes?: number;
  /** Minutes per bucket (1 to 1,440). Default 1. */
  bucketMinutes?: number;
}

/** One bucket of throughput history. */
export interface StatsHistoryBucket {
  /** Start of the bucket. */
  at: Date;
  /** Jobs completed (handler succeeded) in the bucket. */
  completed: number;
  /** Failed attempts (retried or dead-lettered). */
  failed: number;
  /** Dead letters among them. */
  dead: number;
  completedPerSecond: number;
  failedPerSecond: number;
  /** Wait (due → claimed) of half the finished attempts, at most this (a histogram bound, ms). */
  waitP50Ms: number | null;
  /** Wait of 95% of them, at most this (ms). */
  waitP95Ms: number | null;
}

export interface StatsHistory {
  queue: string | null;
  minutes: number;
  bucketMinutes: number;
  /** The wait histogram's bounds (ms): the quantiles are read off these. */
  waitBoundsMs: readonly number[];
  /** Oldest first; a bucket in which no worker finished a job is absent. */
  buckets: StatsHistoryBucket[];
}

export async function readStatsHistory(
  db: Executor,
  schema: string,
  options: StatsHistoryOptions,
): Promise<StatsHistory> {
  const queue = options.queue ?? null;
  if (queue !== null) validateQueueName(queue);
  const minutes = optionalInt(options.minutes, 'minutes', 1, MAX_HISTORY_MINUTES, 60);
  const bucketMinutes = optionalInt(options.bucketMinutes, 'bucketMinutes', 1, 1440, 1);
  if (queue !== null && !(await queueGet(db, schema, queue))) throw new QueueNotFoundError(schema, queue);
  const rows = await queueStatsHistory(db, schema, queue, minutes, bucketMinutes);
  const seconds = bucketMinutes * 60;
  return {
    queue,
    minutes,
    bucketMinutes,
    waitBoundsMs: WAIT_BOUNDS_MS,
    buckets: rows.map((r) => ({
      at: r.at,
      completed: r.completed,
      failed: r.failed,
      dead: r.dead,
      completedPerSecond: r.completed / seconds,
      failedPerSecond: r.failed / seconds,
      waitP50Ms: waitQuantile(r.waitHist, 0.5),
      waitP95Ms: waitQuantile(r.waitHist, 0.95),
    })),
  };
}
