import { ValidationError } from '../errors.js';

export const DEFAULT_BACKOFF_BASE_MS = 1_000;
/** Exponential backoff is capped at 24 hours unless told otherwise: a retry is never further off than a day. */
export const DEFAULT_BACKOFF_MAX_MS = 24 * 3600 * 1000;

/**
 * How long to wait before retry number `attempt` (1 = the retry after the first failed attempt).
 * - `linear`: `delayMs * attempt` (or a constant `delayMs` with `constant: true`), capped at `maxMs`.
 * - `exponential`: `baseMs * factor^(attempt-1)`, capped at `maxMs` (24 h by default).
 * - a function: any delay you compute (it receives the attempt and the error).
 * `jitter` (0–1) subtracts up to that fraction of the delay at random, so retries of many jobs that
 * failed together spread out instead of hitting the database at the same instant.
 */
export type BackoffOptions =
  | { type: 'linear'; delayMs?: number; constant?: boolean; maxMs?: number; jitter?: number }
  | { type: 'exponential'; baseMs?: number; factor?: number; maxMs?: number; jitter?: number }
  | ((attempt: number, error: unknown) => number);

export const DEFAULT_BACKOFF: BackoffOptions = {
  type: 'exponential',
  baseMs: 1_000,
  factor: 2,
  maxMs: DEFAULT_BACKOFF_MAX_MS,
};

/** Validates a backoff option once, when the worker is created. */
export function checkBackoff(value: unknown, field: string): BackoffOptions {
  if (typeof value === 'function') return value as BackoffOptions;
  if (value === null || typeof value !== 'object') {
    throw new ValidationError(field, value, "must be { type: 'linear' | 'exponential', ... } or a function");
  }
  const o = value as Record<string, unknown>;
  const allowed =
    o.type === 'linear'
      ? ['type', 'delayMs', 'constant', 'maxMs', 'jitter']
      : o.type === 'exponential'
        ? ['type', 'baseMs', 'factor', 'maxMs', 'jitter']
        : null;
  if (!allowed) throw new ValidationError(`${field}.type`, o.type, "must be 'linear' or 'exponential'");
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key))
      throw new ValidationError(`${field}.${key}`, o[key], 'unknown backoff option');
  }
  for (const key of ['delayMs', 'baseMs', 'maxMs']) {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new ValidationError(`${field}.${key}`, v, 'must be a number of milliseconds >= 0');
    }
  }
  if (
    o.factor !== undefined &&
    (typeof o.factor !== 'number' || !Number.isFinite(o.factor) || o.factor < 1)
  ) {
    throw new ValidationError(`${field}.factor`, o.factor, 'must be a number >= 1');
  }
  if (o.jitter !== undefined && (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1))) {
    throw new ValidationError(`${field}.jitter`, o.jitter, 'must be a fraction from 0 to 1');
  }
  return value as BackoffOptions;
}

/**
 * The delay before retry number `attempt`, in whole milliseconds, never negative. `random` is injected
 * (defaults to Math.random) so schedules are testable.
 */
export function backoffDelay(
  backoff: BackoffOptions,
  attempt: number,
  error: unknown = undefined,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, Math.floor(attempt));
  if (typeof backoff === 'function') {
    const ms = backoff(n, error);
    return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0;
  }
  let ms: number;
  if (backoff.type === 'linear') {
    const step = backoff.delayMs ?? DEFAULT_BACKOFF_BASE_MS;
    ms = backoff.constant ? step : step * n;
    ms = Math.min(ms, backoff.maxMs ?? DEFAULT_BACKOFF_MAX_MS);
  } else {
    const base = backoff.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    const factor = backoff.factor ?? 2;
    const max = backoff.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    // Exponent capped so the product never overflows to Infinity before the cap applies.
    ms = Math.min(base * Math.pow(factor, Math.min(n - 1, 1000)), max);
    if (!Number.isFinite(ms)) ms = max;
  }
  const jitter = backoff.jitter ?? 0;
  if (jitter > 0) ms -= ms * jitter * random();
  return Math.max(0, Math.round(ms));
}
