import { toJobId } from '../core/ids.js';
import { encodePayload } from '../core/payload.js';
import { LIMITS, checkOptions, durationMs, intInRange, optionalKey, validDate } from '../core/validate.js';
import type { JobInsert } from '../db/queries/job-insert.js';
import { ValidationError } from '../errors.js';
import type { EnqueueOptions } from '../types.js';

export const DEFAULT_MAX_ATTEMPTS = 25;

export const ENQUEUE_OPTION_KEYS = [
  'groupKey',
  'priority',
  'delayMs',
  'runAt',
  'maxAttempts',
  'dedup',
  'idempotencyKey',
  'parentId',
  'suspended',
  'meta',
  'tx',
] as const;

/** Validates one job's payload and options into the row the database layer writes. */
export function toJobInsert(
  payload: unknown,
  rawOptions: unknown,
  maxPayloadBytes: number,
  field = 'options',
  extra: { isRollup?: boolean } = {},
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
  let meta: string | null = null;
  if (o.meta !== undefined && o.meta !== null) {
    if (typeof o.meta !== 'object' || Array.isArray(o.meta)) {
      throw new ValidationError(`${field}.meta`, o.meta, 'must be an object');
    }
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
  };
}

function checkRunAt(value: unknown, field: string): Date {
  const d = validDate(value, field);
  const max = Date.now() + LIMITS.maxDelayMs;
  if (d.getTime() > max) throw new ValidationError(field, value, 'is more than 100 years away');
  return d;
}
