import type { ChildOutcome, JobId } from '../types.js';

const JOB_ID = /^[1-9][0-9]{0,18}$/;

function byId(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Merges what a rollup finalizer knows about its children, with
 * precedence DLQ errors > results > snapshot: a child that is dead-lettered failed even if an older result
 * or snapshot entry says otherwise, and a fresh result beats the snapshot taken before a dead-letter move.
 *
 * `snapshot` is the parent's parent_state: a JSON object keyed by child id. Anything else (null, an array,
 * a scalar) contributes nothing, and so do keys that are not job ids. The map is ordered by child id.
 */
export function mergeChildOutcomes(
  results: ReadonlyMap<JobId, unknown>,
  dlqErrors: ReadonlyMap<JobId, string>,
  snapshot: unknown,
): Map<JobId, ChildOutcome> {
  const merged = new Map<JobId, ChildOutcome>();
  if (snapshot !== null && typeof snapshot === 'object' && !Array.isArray(snapshot)) {
    for (const [id, value] of Object.entries(snapshot as Record<string, unknown>)) {
      if (JOB_ID.test(id)) merged.set(id, { ok: true, value });
    }
  }
  for (const [id, value] of results) merged.set(id, { ok: true, value });
  for (const [id, error] of dlqErrors) merged.set(id, { ok: false, error });
  return new Map([...merged.entries()].sort(([a], [b]) => byId(a, b)));
}
