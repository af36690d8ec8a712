import type { Arbiter } from './arbiter.js';
import { metricsSnapshot, type MetricsSnapshot } from '../db/queries/metrics.js';

/**
 * Every gauge of `queues` in one statement (see db/queries/metrics.ts): the admin facade the metrics
 * module reads through, so it never imports db/queries itself.
 */
export async function readMetricsSnapshot(
  arbiter: Arbiter,
  queues: readonly string[],
  liveWindowMs: number,
): Promise<MetricsSnapshot> {
  await arbiter.checkSchema();
  return metricsSnapshot(arbiter.db, arbiter.schema, queues, liveWindowMs);
}
