import { ValidationError } from '../errors.js';

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
}

/**
 * A change to a queue's limits: per limit a value, or `null` to remove it; limits left out stay as they
 * are. `rate.burst` defaults to `perSecond` (at least `cost`), `rate.cost` to 1.
 */
export interface QueueLimitsPatch {
  maxInFlight?: number | null;
  rate?: { perSecond: number; burst?: number; cost?: number } | null;
}

/** A patch after checkLimitsPatch: every rate given in full. */
export interface CheckedLimitsPatch {
  maxInFlight?: number | null;
  rate?: RateLimit | null;
}

export const NO_LIMITS: QueueLimits = Object.freeze({ maxInFlight: null, rate: null });

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

/** Validates a limits patch; throws ValidationError (and so writes nothing) on any bad value. */
export function checkLimitsPatch(value: unknown, field = 'limits'): CheckedLimitsPatch {
  if (!isPlainObject(value)) throw new ValidationError(field, value, 'must be an object of limits');
  const out: CheckedLimitsPatch = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (key === 'maxInFlight') {
      if (v === null) out.maxInFlight = null;
      else if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_IN_FLIGHT) {
        throw new ValidationError(
          `${field}.maxInFlight`,
          v,
          `must be an integer from 1 to ${MAX_IN_FLIGHT}, or null`,
        );
      } else out.maxInFlight = v;
    } else if (key === 'rate') {
      if (v === null) {
        out.rate = null;
        continue;
      }
      if (!isPlainObject(v))
        throw new ValidationError(`${field}.rate`, v, 'must be { perSecond, burst?, cost? } or null');
      for (const k of Object.keys(v)) {
        if (!['perSecond', 'burst', 'cost'].includes(k)) {
          throw new ValidationError(
            `${field}.rate.${k}`,
            v[k],
            'unknown option (allowed: perSecond, burst, cost)',
          );
        }
      }
      const perSecond = positive(`${field}.rate.perSecond`, v.perSecond, MAX_RATE);
      const cost = v.cost === undefined ? 1 : positive(`${field}.rate.cost`, v.cost, MAX_BURST);
      const burst =
        v.burst === undefined
          ? Math.max(perSecond, cost)
          : positive(`${field}.rate.burst`, v.burst, MAX_BURST);
      if (burst < cost) {
        throw new ValidationError(
          `${field}.rate.burst`,
          burst,
          `must be at least the cost of one job (${cost})`,
        );
      }
      out.rate = { perSecond, burst, cost };
    } else {
      throw new ValidationError(`${field}.${key}`, v, 'unknown option (allowed: maxInFlight, rate)');
    }
  }
  return out;
}
