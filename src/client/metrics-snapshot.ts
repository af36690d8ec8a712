import type { Arbiter } from './arbiter.js';
import { metricsSnapshot, type MetricsSnapshot, type QueueGaugeRow } from '../db/queries/metrics.js';
import { quietQueues } from '../db/queries/queue-due.js';

/** Queues whose tables one refresh reads at most (see readMetricsSnapshot). */
export const METRICS_SCAN_MAX = 100;

/** Per schema: the last exact suspended and dead-letter counts of quiet queues, and where the turn is. */
const quietCache = new Map<
  string,
  { counts: Map<string, { suspended: number; dead: number }>; next: number }
>();

/**
 * Every gauge of `queues` in one statement (see db/queries/metrics.ts): the admin facade the metrics
 * module reads through, so it never imports db/queries itself.
 *
 * With more than METRICS_SCAN_MAX queues, a refresh stays bounded: one more statement reads the
 * schema-wide summary (_queue_due, migration 0010) for the quiet queues, those with no job that is or
 * will become claimable (bound 'infinity', no wake). Their ready, in-flight, scheduled, retrying,
 * exhausted and leased counts are 0 without reading their tables; their suspended and dead-letter counts
 * are read in turn, as many quiet queues a refresh as the active ones leave room for, and reported from
 * the last reading in between. The active queues are read every refresh: at most METRICS_SCAN_MAX of them,
 * in the order given (past that, a refresh reports none of the others).
 */
export async function readMetricsSnapshot(
  arbiter: Arbiter,
  queues: readonly string[],
  liveWindowMs: number,
): Promise<MetricsSnapshot> {
  await arbiter.checkSchema();
  if (queues.length <= METRICS_SCAN_MAX)
    return metricsSnapshot(arbiter.db, arbiter.schema, queues, liveWindowMs);
  const quiet = await quietQueues(arbiter.db, arbiter.schema, queues);
  const active = queues.filter((q) => !quiet.has(q)).slice(0, METRICS_SCAN_MAX);
  let cache = quietCache.get(arbiter.schema);
  if (!cache) quietCache.set(arbiter.schema, (cache = { counts: new Map(), next: 0 }));
  const quietList = queues.filter((q) => quiet.has(q));
  const turn: string[] = [];
  for (let i = 0; i < quietList.length && active.length + turn.length < METRICS_SCAN_MAX; i++)
    turn.push(quietList[(cache.next + i) % quietList.length]!);
  cache.next = quietList.length === 0 ? 0 : (cache.next + turn.length) % quietList.length;
  const snap = await metricsSnapshot(arbiter.db, arbiter.schema, [...active, ...turn], liveWindowMs);
  const read = new Map(snap.queues.map((q) => [q.queue, q]));
  for (const q of turn) {
    const r = read.get(q);
    if (r) cache.counts.set(q, { suspended: r.suspended, dead: r.dead });
  }
  const rows: QueueGaugeRow[] = [];
  for (const q of queues) {
    const r = read.get(q);
    if (r) rows.push(r);
    else if (quiet.has(q)) {
      const c = cache.counts.get(q) ?? { suspended: 0, dead: 0 };
      rows.push({
        queue: q,
        ready: 0,
        inFlight: 0,
        scheduled: 0,
        retrying: 0,
        exhausted: 0,
        leased: 0,
        oldestReadyAgeSeconds: null,
        ...c,
      });
    }
  }
  return { ...snap, queues: rows };
}
