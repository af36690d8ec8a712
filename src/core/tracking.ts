import { ValidationError } from '../errors.js';
import { LIMIT_KEY_META } from './flow-limits.js';
import type { JobId } from '../types.js';
import { validateQueueName } from './identifiers.js';
import { toJobId } from './ids.js';
import { LIMITS, checkOptions, durationMs, isPlainObject } from './validate.js';

// Tracked jobs: jobs someone waits for (an awaited result, a flow node, a dependency). See migration 0012.

/** The key under `job.meta` that marks a tracked job (like `otel` carries the trace context). */
export const TRACK_META_KEY = 'arbiter';

/** How long a finished tracked job's result (and a finished flow) is kept, by default: one day. */
export const DEFAULT_RESULT_RETAIN_MS = 24 * 3600 * 1000;

/** The longest retention a result or a flow may ask for: 90 days. */
export const MAX_RESULT_RETAIN_MS = 90 * 24 * 3600 * 1000;

/** At most this many dependencies per job. */
export const MAX_DEPENDENCIES = 1_000;

/** The final (or current) state of a tracked job, as recorded. */
export type TrackedState = 'unfinished' | 'succeeded' | 'failed' | 'cancelled';

/** What a job does when one of its dependencies fails (or is cancelled). */
export type DependencyFailurePolicy = 'cancel' | 'continue';

/** A job named as a dependency: an id in the same queue, or a queue and id (a Job works too). */
export type DependencyRef = JobId | number | bigint | { queue: string; id: JobId | number | bigint };

/** `result` of an enqueue: keep the job's result (true: for the default retention of one day). */
export type ResultOption = boolean | { retainMs?: number };

/** Whether a job read from a queue is tracked (so its result is to be written when it finishes). */
export function isTracked(job: { meta: Record<string, unknown> | null }): boolean {
  return job.meta !== null && job.meta[TRACK_META_KEY] !== undefined;
}

/** A validated `result` option: the retention in ms, or null when no result is asked for. */
export function toResultRetention(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return DEFAULT_RESULT_RETAIN_MS;
  const o = checkOptions<{ retainMs: number }>(value, field, ['retainMs']);
  return o.retainMs === undefined
    ? DEFAULT_RESULT_RETAIN_MS
    : durationMs(o.retainMs, `${field}.retainMs`, MAX_RESULT_RETAIN_MS, 1);
}

/** A validated dependency failure policy (default 'cancel'). */
export function toFailurePolicy(value: unknown, field: string): DependencyFailurePolicy {
  if (value === undefined || value === null) return 'cancel';
  if (value !== 'cancel' && value !== 'continue') {
    throw new ValidationError(field, value, "must be 'cancel' or 'continue'");
  }
  return value;
}

/** A dependency, resolved to its queue and id. */
export interface DependencyKey {
  queue: string;
  id: JobId;
}

/** Validated `dependsOn` of a plain enqueue: ids of `queue`, or `{ queue, id }` of any queue; no repeats. */
export function toDependencies(value: unknown, field: string, queue: string): DependencyKey[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, value, 'must be an array of job ids');
  if (value.length > MAX_DEPENDENCIES) {
    throw new ValidationError(field, value.length, `at most ${MAX_DEPENDENCIES} dependencies`);
  }
  const seen = new Set<string>();
  const out: DependencyKey[] = [];
  value.forEach((v, i) => {
    const f = `${field}[${i}]`;
    let key: DependencyKey;
    if (isPlainObject(v) || (v !== null && typeof v === 'object' && 'queue' in v && 'id' in v)) {
      const o = v as { queue?: unknown; id?: unknown };
      if (typeof o.queue !== 'string')
        throw new ValidationError(`${f}.queue`, o.queue, 'must be a queue name');
      key = { queue: validateQueueName(o.queue, `${f}.queue`), id: toJobId(o.id, `${f}.id`) };
    } else {
      key = { queue, id: toJobId(v, f) };
    }
    const k = `${key.queue}/${key.id}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(key);
    }
  });
  return out;
}

/** The meta of a tracked job: the caller's meta (JSON text or null) with the tracking key added. */
export function withTrackMeta(meta: string | null, mark: Record<string, unknown>): string {
  const base = meta === null ? {} : (JSON.parse(meta) as Record<string, unknown>);
  return JSON.stringify({ ...base, [TRACK_META_KEY]: mark });
}

/** Rejects a caller's meta that uses the reserved tracking key. */
export function checkMetaKey(meta: unknown, field: string): void {
  if (!isPlainObject(meta)) return;
  for (const reserved of [TRACK_META_KEY, LIMIT_KEY_META]) {
    if (meta[reserved] !== undefined) {
      throw new ValidationError(`${field}.${reserved}`, meta[reserved], 'is reserved by Arbiter');
    }
  }
}

/** Longest wait of `result({ timeoutMs })`. */
export const MAX_RESULT_WAIT_MS = LIMITS.maxLeaseMs;
