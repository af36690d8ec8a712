import type { DependencyFailurePolicy, DependencyKey, TrackedState } from '../core/tracking.js';
import { DEFAULT_RESULT_RETAIN_MS, withTrackMeta } from '../core/tracking.js';
import type { Executor } from '../db/executor.js';
import type { JobInsert } from '../db/queries/job-insert.js';
import { depsResolve, edgesInsert, trackedInsert, type EdgeInsert } from '../db/queries/tracked.js';
import type { JobRow } from '../db/rows.js';
import { DependencyNotFoundError } from '../errors.js';
import type { JobStore } from '../store/job-store.js';

/** A dependency's state as the new dependent sees it at enqueue. */
export interface ResolvedDependency extends DependencyKey {
  state: TrackedState;
  error: string | null;
}

/**
 * Resolves dependencies on existing jobs, grouped by queue (queues in name order, ids ascending, so
 * concurrent enqueues lock in one order). Throws DependencyNotFoundError for an id that is neither live
 * nor recorded; the caller's transaction then rolls back, writing nothing.
 */
export async function resolveDependencies(
  tx: Executor,
  schema: string,
  deps: readonly DependencyKey[],
): Promise<ResolvedDependency[]> {
  const byQueue = new Map<string, string[]>();
  for (const d of deps) byQueue.set(d.queue, [...(byQueue.get(d.queue) ?? []), d.id]);
  const out = new Map<string, ResolvedDependency>();
  for (const queue of [...byQueue.keys()].sort()) {
    const { states, missing } = await depsResolve(
      tx,
      schema,
      queue,
      byQueue.get(queue)!,
      DEFAULT_RESULT_RETAIN_MS,
    );
    if (missing.length > 0) throw new DependencyNotFoundError(queue, missing[0]!);
    for (const [id, s] of states) out.set(`${queue}/${id}`, { queue, id, ...s });
  }
  return deps.map((d) => out.get(`${d.queue}/${d.id}`)!);
}

/**
 * What a new dependent starts as, given its dependencies' states: how many are not satisfied yet (its job
 * is suspended while any are), and whether one that failed already cancels it.
 */
export function startState(
  deps: readonly ResolvedDependency[],
  policy: DependencyFailurePolicy,
): { depsPending: number; state: TrackedState; error: string | null } {
  let pending = 0;
  let error: string | null = null;
  for (const d of deps) {
    if (d.state === 'succeeded') continue;
    if (d.state !== 'unfinished' && policy === 'continue') continue;
    pending++;
    if (d.state !== 'unfinished' && error === null) error = `dependency ${d.queue}/${d.id} ${d.state}`;
  }
  return { depsPending: pending, state: error === null ? 'unfinished' : 'cancelled', error };
}

/**
 * One tracked job, inserted inside `tx` (the caller's transaction or one of ours): its dependencies
 * resolved first, then the job (suspended while it waits for them), its tracked row and its edges.
 */
export async function insertTracked(
  store: JobStore,
  tx: Executor,
  row: JobInsert,
  spec: {
    deps: readonly DependencyKey[];
    policy: DependencyFailurePolicy;
    retainMs: number;
    result: boolean;
  },
): Promise<JobRow> {
  const schema = store.t.schema;
  const deps = await resolveDependencies(tx, schema, spec.deps);
  const start = startState(deps, spec.policy);
  const mark: Record<string, unknown> = spec.result ? { result: true } : {};
  const insert: JobInsert = {
    ...row,
    meta: withTrackMeta(row.meta, mark),
    suspended: row.suspended || start.depsPending > 0,
  };
  const [job] = await store.using(tx).insertRows([insert]);
  await trackedInsert(tx, schema, [
    {
      queue: store.t.queue,
      jobId: job!.id,
      state: start.state,
      error: start.error,
      flowId: null,
      node: null,
      depsPending: start.depsPending,
      onDepFailure: spec.policy,
      retainMs: spec.retainMs,
    },
  ]);
  const edges: EdgeInsert[] = deps.map((d) => ({
    queue: store.t.queue,
    jobId: job!.id,
    depQueue: d.queue,
    depJobId: d.id,
    state: d.state,
  }));
  await edgesInsert(tx, schema, edges);
  return job!;
}
