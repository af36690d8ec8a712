import { ValidationError } from '../errors.js';
import { optionalKey } from './validate.js';

/** A token bucket: `burst` tokens at most, refilled at `perSecond` tokens a second; a job takes `cost`. */
export interface RateLimit {
  perSecond: number;
  burst: number;
  cost: number;
}

/** A queue's flow-control limits, enforced inside the claim. `null`: no such limit. */
export interface QueueLimits {
  /** At most this many jobs of the queue in flight (leased) at once, across every worker and host. */
  maxInFlight: number | null;
  /** A token bucket every claimed job draws from. */
  rate: RateLimit | null;
  /**
   * Limits per limit key (the `limitKey` a job is enqueued with), and fair share across keys: when set,
   * ungrouped jobs are claimed key by key in weighted turns. `null`: jobs are claimed without regard to
   * their key.
   */
  perKey: PerKeyLimits | null;
}

/** The default limits of every key of a queue (an override per key replaces them: see KeyLimits). */
export interface PerKeyLimits {
  /** At most this many jobs of one key in flight at once. */
  maxInFlight: number | null;
  /** A token bucket per key. */
  rate: RateLimit | null;
}

/** One key's override of its queue's per-key defaults; `null` fields fall back to the defaults. */
export interface KeyLimits {
  maxInFlight: number | null;
  rate: RateLimit | null;
  /** Jobs this key may take per turn of the fair share (default 1): its share against the other keys. */
  weight: number | null;
}

/** A change to one key's override: per field a value, `null` to fall back to the default. */
export interface KeyLimitsPatch {
  maxInFlight?: number | null;
  rate?: { perSecond: number; burst?: number; cost?: number } | null;
  weight?: number | null;
}

/** A key's limits as in force, and its use now. */
export interface KeyUsage {
  key: string;
  /** Whether the key has an override (else the queue's defaults apply). */
  configured: boolean;
  /** The limits in force for the key: its override, else the queue's defaults. */
  maxInFlight: number | null;
  rate: RateLimit | null;
  weight: number;
  inFlight: number;
  /** Jobs of the key ready to run now. */
  ready: number;
  tokens: number | null;
}

/**
 * A change to a queue's limits: per limit a value, or `null` to remove it; limits left out stay as they
 * are. `rate.burst` defaults to `perSecond` (at least `cost`), `rate.cost` to 1.
 */
export interface QueueLimitsPatch {
  maxInFlight?: number | null;
  rate?: { perSecond: number; burst?: number; cost?: number } | null;
  /** Per-key defaults (`{}`: fair share across keys without per-key limits); `null` turns keys off. */
  perKey?: {
    maxInFlight?: number | null;
    rate?: { perSecond: number; burst?: number; cost?: number } | null;
  } | null;
}

/** A patch after checkLimitsPatch: every rate given in full. */
export interface CheckedLimitsPatch {
  maxInFlight?: number | null;
  rate?: RateLimit | null;
  perKey?: { maxInFlight?: number | null; rate?: RateLimit | null } | null;
}

/** A key patch after checkKeyLimitsPatch. */
export interface CheckedKeyLimitsPatch {
  maxInFlight?: number | null;
  rate?: RateLimit | null;
  weight?: number | null;
}

export const NO_LIMITS: QueueLimits = Object.freeze({ maxInFlight: null, rate: null, perKey: null });

/** The key a job's limit key is kept under in its meta (see migration 0014). */
export const LIMIT_KEY_META = 'arbiter:key';

/** The largest weight of a key. */
export const MAX_WEIGHT = 1000;

const MAX_IN_FLIGHT = 1_000_000;
const MAX_RATE = 1e6;
const MAX_BURST = 1e9;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positive(field: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
    throw new ValidationError(field, v, `must be a finite number > 0 and <= ${max}`);
  }
  return v;
}

function checkCap(field: string, v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_IN_FLIGHT) {
    throw new ValidationError(field, v, `must be an integer from 1 to ${MAX_IN_FLIGHT}, or null`);
  }
  return v;
}

function checkRate(field: string, v: unknown): RateLimit | null {
  if (v === null) return null;
  if (!isPlainObject(v)) throw new ValidationError(field, v, 'must be { perSecond, burst?, cost? } or null');
  for (const k of Object.keys(v)) {
    if (!['perSecond', 'burst', 'cost'].includes(k)) {
      throw new ValidationError(`${field}.${k}`, v[k], 'unknown option (allowed: perSecond, burst, cost)');
    }
  }
  const perSecond = positive(`${field}.perSecond`, v.perSecond, MAX_RATE);
  const cost = v.cost === undefined ? 1 : positive(`${field}.cost`, v.cost, MAX_BURST);
  const burst =
    v.burst === undefined ? Math.max(perSecond, cost) : positive(`${field}.burst`, v.burst, MAX_BURST);
  if (burst < cost) {
    throw new ValidationError(`${field}.burst`, burst, `must be at least the cost of one job (${cost})`);
  }
  return { perSecond, burst, cost };
}

function unknownOption(field: string, key: string, v: unknown, allowed: string): never {
  throw new ValidationError(`${field}.${key}`, v, `unknown option (allowed: ${allowed})`);
}

/** Validates a limits patch; throws ValidationError (and so writes nothing) on any bad value. */
export function checkLimitsPatch(value: unknown, field = 'limits'): CheckedLimitsPatch {
  if (!isPlainObject(value)) throw new ValidationError(field, value, 'must be an object of limits');
  const out: CheckedLimitsPatch = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (key === 'maxInFlight') out.maxInFlight = checkCap(`${field}.maxInFlight`, v);
    else if (key === 'rate') out.rate = checkRate(`${field}.rate`, v);
    else if (key === 'perKey') {
      if (v === null) {
        out.perKey = null;
        continue;
      }
      if (!isPlainObject(v))
        throw new ValidationError(`${field}.perKey`, v, 'must be { maxInFlight?, rate? } or null');
      const perKey: NonNullable<CheckedLimitsPatch['perKey']> = {};
      for (const [k, kv] of Object.entries(v)) {
        if (kv === undefined) continue;
        if (k === 'maxInFlight') perKey.maxInFlight = checkCap(`${field}.perKey.maxInFlight`, kv);
        else if (k === 'rate') perKey.rate = checkRate(`${field}.perKey.rate`, kv);
        else unknownOption(`${field}.perKey`, k, kv, 'maxInFlight, rate');
      }
      out.perKey = perKey;
    } else unknownOption(field, key, v, 'maxInFlight, rate, perKey');
  }
  return out;
}

/** Validates one key's override patch; throws ValidationError (and so writes nothing) on any bad value. */
export function checkKeyLimitsPatch(value: unknown, field = 'limits'): CheckedKeyLimitsPatch {
  if (!isPlainObject(value)) throw new ValidationError(field, value, 'must be an object of limits');
  const out: CheckedKeyLimitsPatch = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (key === 'maxInFlight') out.maxInFlight = checkCap(`${field}.maxInFlight`, v);
    else if (key === 'rate') out.rate = checkRate(`${field}.rate`, v);
    else if (key === 'weight') {
      if (v === null) out.weight = null;
      else if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_WEIGHT) {
        throw new ValidationError(
          `${field}.weight`,
          v,
          `must be an integer from 1 to ${MAX_WEIGHT}, or null`,
        );
      } else out.weight = v;
    } else unknownOption(field, key, v, 'maxInFlight, rate, weight');
  }
  return out;
}

/** Validates a limit key (of a job, or named in a key's limits): a key as groupKey takes. */
export function checkLimitKey(value: unknown, field: string): string {
  const key = optionalKey(value, field);
  if (key === null) throw new ValidationError(field, value, 'is required');
  return key;
}
