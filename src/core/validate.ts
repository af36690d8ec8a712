import { BatchTooLargeError, ValidationError } from '../errors.js';

/** How long a claim holds a job when no `leaseMs` is given: by `queue.claim` and by a worker's queue. */
export const DEFAULT_LEASE_MS = 30_000;

/** Limits that keep one call bounded. */
export const LIMITS = {
  maxBatch: 10_000,
  maxDelayMs: 100 * 365 * 24 * 3600 * 1000,
  maxLeaseMs: 12 * 3600 * 1000,
  /** A claim may lease a job for as little as 1 ms (an operator's or a test's short-lived claim). */
  minClaimLeaseMs: 1,
  /** A worker's queue leases for at least 100 ms: its heartbeat extends leases every third of it. */
  minWorkerLeaseMs: 100,
  maxAttempts: 1_000_000,
  minPriority: -32768,
  maxPriority: 32767,
  maxPageSize: 1_000,
  maxKeyLength: 512,
} as const;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Options objects are closed: a typo is an error, not a silently ignored key. */
export function checkOptions<T extends object>(
  value: unknown,
  field: string,
  allowed: readonly string[],
): Partial<T> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw new ValidationError(field, value, 'must be an options object');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(
        `${field}.${key}`,
        value[key],
        `unknown option (allowed: ${allowed.join(', ')})`,
      );
    }
  }
  return value as Partial<T>;
}

export function intInRange(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(field, value, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalInt(
  value: unknown,
  field: string,
  min: number,
  max: number,
  fallback: number,
): number {
  return value === undefined ? fallback : intInRange(value, field, min, max);
}

export function optionalBool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ValidationError(field, value, 'must be a boolean');
  return value;
}

/** A duration in milliseconds: finite, not negative, at most `max`. */
export function durationMs(value: unknown, field: string, max: number, min = 0): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ValidationError(field, value, `must be a number of milliseconds from ${min} to ${max}`);
  }
  return Math.round(value);
}

export function validDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ValidationError(field, value, 'must be a valid Date');
  }
  return value;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether a string is valid UTF-16 (no lone surrogate): only those reach PostgreSQL unchanged. */
export function isWellFormed(value: string): boolean {
  const native = (value as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(value) : !LONE_SURROGATE.test(value);
}

/**
 * A group, dedup or idempotency key. A lone surrogate is refused: it would be stored as U+FFFD, so two
 * different keys would silently become one.
 */
export function optionalKey(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.maxKeyLength) {
    throw new ValidationError(
      field,
      value,
      `must be a non-empty string of at most ${LIMITS.maxKeyLength} characters`,
    );
  }
  if (value.includes('\u0000')) throw new ValidationError(field, value, 'may not contain NUL');
  if (!isWellFormed(value)) throw new ValidationError(field, value, 'contains a lone surrogate');
  return value;
}

export function requiredString(value: unknown, field: string, maxLength = 65_536): string {
  if (typeof value !== 'string' || value.length > maxLength || value.includes('\u0000')) {
    throw new ValidationError(
      field,
      value,
      `must be a string of at most ${maxLength} characters without NUL`,
    );
  }
  return value;
}

export function batchArray(value: unknown, field: string, max: number = LIMITS.maxBatch): unknown[] {
  if (!Array.isArray(value)) throw new ValidationError(field, value, 'must be an array');
  if (value.length > max) throw new BatchTooLargeError(field, value.length, max);
  return value;
}
