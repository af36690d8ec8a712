import type { QueueLimits } from '../core/flow-limits.js';
import type { Executor } from '../db/executor.js';
import { flowLimitsAll } from '../db/queries/flow.js';

/**
 * Which queues of a schema have flow-control limits, as claims see them: read in one statement at most
 * once a second per executor and schema, so a claim on a queue without limits reads nothing more and
 * runs the plain claim statement, and a limit set anywhere takes effect within a second. A change made
 * through this process (setQueueLimits) is seen at once.
 */
const REFRESH_MS = 1000;

interface Entry {
  at: number;
  generation: number;
  limits: Map<string, QueueLimits>;
  pending: Promise<Map<string, QueueLimits>> | null;
}

const caches = new WeakMap<Executor, Map<string, Entry>>();
const generations = new Map<string, number>();

/** Drops what this process cached for `schema` (after a change of limits made here). */
export function invalidateFlowLimits(schema: string): void {
  generations.set(schema, (generations.get(schema) ?? 0) + 1);
}

/**
 * The limits of `queue`, or null when it has none: synchronous while the cache is fresh (the common
 * case), else a promise of the refreshed answer.
 */
export function cachedFlowLimits(
  db: Executor,
  schema: string,
  queue: string,
  now = Date.now(),
): QueueLimits | null | Promise<QueueLimits | null> {
  let bySchema = caches.get(db);
  if (!bySchema) caches.set(db, (bySchema = new Map()));
  const generation = generations.get(schema) ?? 0;
  const e = bySchema.get(schema);
  if (e && e.generation === generation && now - e.at < REFRESH_MS) return e.limits.get(queue) ?? null;
  const entry: Entry = e ?? { at: 0, generation, limits: new Map(), pending: null };
  bySchema.set(schema, entry);
  if (!entry.pending || entry.generation !== generation) {
    entry.generation = generation;
    const p = flowLimitsAll(db, schema).then(
      (limits) => {
        if (entry.pending === p) {
          entry.limits = limits;
          entry.at = Date.now();
          entry.pending = null;
        }
        return limits;
      },
      (err: unknown) => {
        if (entry.pending === p) entry.pending = null;
        throw err;
      },
    );
    entry.pending = p;
  }
  return entry.pending.then((limits) => limits.get(queue) ?? null);
}
