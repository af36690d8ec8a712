import { toJobId } from '../core/ids.js';
import { encodePayload } from '../core/payload.js';
import {
  LIMITS,
  checkOptions,
  durationMs,
  intInRange,
  optionalBool,
  optionalKey,
  validDate,
} from '../core/validate.js';
import type { DepthCap, EnqueueControl } from '../db/queries/enqueue-controls.js';
import type { JobInsert } from '../db/queries/job-insert.js';
import { checkMetaKey } from '../core/tracking.js';
import { checkLimitKey, LIMIT_KEY_META } from '../core/flow-limits.js';
import { ValidationError } from '../errors.js';
import type {
  DebounceOptions,
  EnqueueOptions,
  MaxQueuedOptions,
  ThrottleOptions,
  UniqueOptions,
} from '../types.js';

export const DEFAULT_MAX_ATTEMPTS = 25;

export const ENQUEUE_OPTION_KEYS = [
  'groupKey',
  'limitKey',
  'priority',
  'delayMs',
  'runAt',
  'maxAttempts',
  'dedup',
  'idempotencyKey',
  'parentId',
  'suspended',
  'meta',
  'unique',
  'debounce',
  'throttle',
  'maxQueued',
  'result',
  'dependsOn',
  'onDependencyFailure',
  'tx',
] as const;

/** Longest debounce or throttle window (and debounce maxWaitMs). */
export const MAX_WINDOW_MS = 24 * 3600 * 1000;
/** Largest maxQueued limit: a capped enqueue probes at most limit + 1 index entries. */
export const MAX_QUEUED_LIMIT = 100_000;
/** Longest wait of `maxQueued.overflow: 'wait'`. */
export const MAX_QUEUED_WAIT_MS = 60_000;

/** Validates one job's payload and options into the row the database layer writes. */
export function toJobInsert(
  payload: unknown,
  rawOptions: unknown,
  maxPayloadBytes: number,
  field = 'options',
  extra: { isRollup?: boolean; single?: boolean; tracked?: boolean } = {},
): JobInsert {
  const o = checkOptions<EnqueueOptions & { tx?: unknown }>(rawOptions, field, ENQUEUE_OPTION_KEYS);
  if (o.delayMs !== undefined && o.runAt !== undefined) {
    throw new ValidationError(`${field}.runAt`, o.runAt, 'give either delayMs or runAt, not both');
  }
  let dedupKey: string | null = null;
  let dedupMode: JobInsert['dedupMode'] = null;
  if (o.dedup !== undefined && o.dedup !== null) {
    const d = checkOptions<{ key: string; mode: string }>(o.dedup, `${field}.dedup`, ['key', 'mode']);
    dedupKey = optionalKey(d.key, `${field}.dedup.key`);
    if (dedupKey === null) throw new ValidationError(`${field}.dedup.key`, d.key, 'is required');
    const mode = d.mode ?? 'ignore';
    if (mode !== 'ignore' && mode !== 'replace') {
      throw new ValidationError(`${field}.dedup.mode`, mode, "must be 'ignore' or 'replace'");
    }
    dedupMode = mode;
  }
  const idempotencyKey = optionalKey(o.idempotencyKey, `${field}.idempotencyKey`);
  if (idempotencyKey !== null && dedupMode === 'replace') {
    throw new ValidationError(
      `${field}.idempotencyKey`,
      idempotencyKey,
      "cannot be combined with dedup mode 'replace'",
    );
  }
  if (o.suspended !== undefined && typeof o.suspended !== 'boolean') {
    throw new ValidationError(`${field}.suspended`, o.suspended, 'must be a boolean');
  }
  const control = toControl(o, field, extra.single ?? true);
  const cap = toCap(o.maxQueued, `${field}.maxQueued`, extra.single ?? true);
  if (cap?.scope === 'group' && (o.groupKey === undefined || o.groupKey === null)) {
    throw new ValidationError(`${field}.maxQueued.scope`, 'group', 'needs a groupKey');
  }
  if (control && control.kind !== 'unique' && (o.delayMs !== undefined || o.runAt !== undefined)) {
    throw new ValidationError(
      `${field}.${control.kind}`,
      rawOptions,
      'sets the run time itself: give no delayMs or runAt',
    );
  }
  if ((control || cap) && o.parentId !== undefined && o.parentId !== null) {
    throw new ValidationError(`${field}.parentId`, o.parentId, 'cannot be combined with enqueue controls');
  }
  const tracked =
    (o.result !== undefined && o.result !== null && o.result !== false) ||
    (o.dependsOn !== undefined && o.dependsOn !== null) ||
    o.onDependencyFailure !== undefined;
  if (tracked) checkTrackedOptions(o, field, extra.tracked ?? false, control !== null || cap !== null);
  let meta: string | null = null;
  if (o.meta !== undefined && o.meta !== null) {
    if (typeof o.meta !== 'object' || Array.isArray(o.meta)) {
      throw new ValidationError(`${field}.meta`, o.meta, 'must be an object');
    }
    checkMetaKey(o.meta, `${field}.meta`);
  }
  const limitKey =
    o.limitKey === undefined || o.limitKey === null ? null : checkLimitKey(o.limitKey, `${field}.limitKey`);
  if (limitKey !== null && o.groupKey !== undefined && o.groupKey !== null) {
    throw new ValidationError(
      `${field}.limitKey`,
      limitKey,
      'cannot be combined with a groupKey (a group already runs one job at a time)',
    );
  }
  if (limitKey !== null) {
    meta = encodePayload({ ...(o.meta ?? {}), [LIMIT_KEY_META]: limitKey }, 64 * 1024);
  } else if (o.meta !== undefined && o.meta !== null) {
    meta = encodePayload(o.meta, 64 * 1024);
  }
  return {
    payload: encodePayload(payload, maxPayloadBytes),
    groupKey: optionalKey(o.groupKey, `${field}.groupKey`),
    priority:
      o.priority === undefined
        ? 0
        : intInRange(o.priority, `${field}.priority`, LIMITS.minPriority, LIMITS.maxPriority),
    runAt: o.runAt === undefined ? null : checkRunAt(o.runAt, `${field}.runAt`),
    delayMs: o.delayMs === undefined ? 0 : durationMs(o.delayMs, `${field}.delayMs`, LIMITS.maxDelayMs),
    maxAttempts:
      o.maxAttempts === undefined
        ? DEFAULT_MAX_ATTEMPTS
        : intInRange(o.maxAttempts, `${field}.maxAttempts`, 1, LIMITS.maxAttempts),
    dedupKey,
    dedupMode,
    idempotencyKey,
    parentId:
      o.parentId === undefined || o.parentId === null ? null : toJobId(o.parentId, `${field}.parentId`),
    isRollup: extra.isRollup ?? false,
    suspended: o.suspended ?? false,
    meta,
    control,
    cap,
  };
}

/**
 * `result`, `dependsOn` and `onDependencyFailure` are for single enqueues and flow nodes, and do not mix
 * with options that may make an enqueue insert nothing or hand back another job.
 */
function checkTrackedOptions(
  o: Partial<EnqueueOptions>,
  field: string,
  allowed: boolean,
  controlled: boolean,
): void {
  const given = (['result', 'dependsOn', 'onDependencyFailure'] as const).find(
    (k) => o[k] !== undefined && o[k] !== null && o[k] !== false,
  )!;
  const f = `${field}.${given}`;
  if (!allowed)
    throw new ValidationError(f, o[given], 'is for single enqueues only (enqueue, or a flow node)');
  for (const other of ['dedup', 'idempotencyKey'] as const) {
    if (o[other] !== undefined && o[other] !== null) {
      throw new ValidationError(f, o[given], `cannot be combined with ${other}`);
    }
  }
  if (controlled) throw new ValidationError(f, o[given], 'cannot be combined with enqueue controls');
  if (o.suspended === true && o.dependsOn !== undefined && o.dependsOn !== null) {
    throw new ValidationError(f, o[given], 'cannot be combined with suspended (dependencies resume the job)');
  }
}

const CONTROLS = ['unique', 'debounce', 'throttle'] as const;

/** The one control (unique, debounce or throttle) of an enqueue, validated; null when none is given. */
function toControl(o: Partial<EnqueueOptions>, field: string, single: boolean): EnqueueControl | null {
  const given = CONTROLS.filter((k) => o[k] !== undefined && o[k] !== null);
  if (given.length === 0) return null;
  const kind = given[0]!;
  const f = `${field}.${kind}`;
  if (!single)
    throw new ValidationError(f, o[kind], 'is for single enqueues only (enqueue, not enqueueMany or trees)');
  if (given.length > 1) throw new ValidationError(f, o[kind], `cannot be combined with ${given[1]}`);
  if (o.dedup !== undefined && o.dedup !== null)
    throw new ValidationError(f, o[kind], 'cannot be combined with dedup');
  if (o.idempotencyKey !== undefined && o.idempotencyKey !== null) {
    throw new ValidationError(f, o[kind], 'cannot be combined with idempotencyKey');
  }
  const requiredKey = (v: unknown) => {
    const key = optionalKey(v, `${f}.key`);
    if (key === null) throw new ValidationError(`${f}.key`, v, 'is required');
    return key;
  };
  if (kind === 'unique') {
    const u = checkOptions<UniqueOptions>(o.unique, f, ['key', 'forMs', 'after']);
    const after = u.after ?? 'finished';
    if (after !== 'finished' && after !== 'succeeded' && after !== 'dead') {
      throw new ValidationError(`${f}.after`, after, "must be 'finished', 'succeeded' or 'dead'");
    }
    return {
      kind,
      key: requiredKey(u.key),
      holdMs: durationMs(u.forMs, `${f}.forMs`, LIMITS.maxDelayMs, 1),
      holdOn: after,
    };
  }
  if (kind === 'debounce') {
    const d = checkOptions<DebounceOptions>(o.debounce, f, ['key', 'windowMs', 'maxWaitMs']);
    const windowMs = durationMs(d.windowMs, `${f}.windowMs`, MAX_WINDOW_MS, 1);
    const maxWaitMs =
      d.maxWaitMs === undefined ? null : durationMs(d.maxWaitMs, `${f}.maxWaitMs`, MAX_WINDOW_MS, 1);
    if (maxWaitMs !== null && maxWaitMs < windowMs) {
      throw new ValidationError(`${f}.maxWaitMs`, d.maxWaitMs, `must be at least windowMs (${windowMs})`);
    }
    return { kind, key: requiredKey(d.key), windowMs, maxWaitMs };
  }
  const t = checkOptions<ThrottleOptions>(o.throttle, f, ['key', 'windowMs', 'trailing']);
  return {
    kind,
    key: requiredKey(t.key),
    windowMs: durationMs(t.windowMs, `${f}.windowMs`, MAX_WINDOW_MS, 1),
    trailing: optionalBool(t.trailing, `${f}.trailing`, false),
  };
}

function toCap(value: unknown, field: string, single: boolean): DepthCap | null {
  if (value === undefined || value === null) return null;
  if (!single)
    throw new ValidationError(
      field,
      value,
      'is for single enqueues only (enqueue, not enqueueMany or trees)',
    );
  const m = checkOptions<MaxQueuedOptions>(value, field, ['limit', 'scope', 'overflow', 'timeoutMs']);
  const scope = m.scope ?? 'queue';
  if (scope !== 'queue' && scope !== 'group') {
    throw new ValidationError(`${field}.scope`, scope, "must be 'queue' or 'group'");
  }
  const overflow = m.overflow ?? 'reject';
  if (overflow !== 'reject' && overflow !== 'dropOldest' && overflow !== 'wait') {
    throw new ValidationError(`${field}.overflow`, overflow, "must be 'reject', 'dropOldest' or 'wait'");
  }
  if (m.timeoutMs !== undefined && overflow !== 'wait') {
    throw new ValidationError(`${field}.timeoutMs`, m.timeoutMs, "is only for overflow 'wait'");
  }
  return {
    limit: intInRange(m.limit, `${field}.limit`, 1, MAX_QUEUED_LIMIT),
    scope,
    overflow,
    timeoutMs:
      m.timeoutMs === undefined
        ? 5_000
        : durationMs(m.timeoutMs, `${field}.timeoutMs`, MAX_QUEUED_WAIT_MS, 1),
  };
}

function checkRunAt(value: unknown, field: string): Date {
  const d = validDate(value, field);
  const max = Date.now() + LIMITS.maxDelayMs;
  if (d.getTime() > max) throw new ValidationError(field, value, 'is more than 100 years away');
  return d;
}
