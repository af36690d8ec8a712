import { ValidationError } from '../errors.js';
import { LIMITS, isPlainObject } from './validate.js';

/**
 * How long a queue keeps what is finished: its processed-job history (`keepProcessed`, `ctx.keep()`, with
 * the stored results), its dead letters and its throughput history. Each limit is a number, or `null` for
 * no limit. Rows past any limit of their table are deleted by the maintenance leader, a small batch at a
 * time.
 */
export interface Retention {
  /** History rows whose job finished longer ago than this (ms) are pruned. */
  historyMaxAgeMs: number | null;
  /** Only the newest this many history rows are kept. */
  historyMaxCount: number | null;
  /** Dead letters that failed longer ago than this (ms) are pruned. */
  deadLetterMaxAgeMs: number | null;
  /** Only the newest this many dead letters are kept. */
  deadLetterMaxCount: number | null;
  /** Rows of the per-minute throughput history (`_queue_stats`) older than this (ms) are pruned. */
  statsMaxAgeMs: number | null;
}

export type RetentionKey = keyof Retention;

/**
 * A change to a queue's retention: per key, a number (the new limit), `null` (no limit) or `'default'`
 * (back to the default below). Keys left out keep their current setting.
 */
export type RetentionPatch = { [K in RetentionKey]?: number | null | 'default' };

const DAY = 24 * 3600 * 1000;

/**
 * What a queue keeps unless told otherwise. History is an audit trail: two weeks, at most a million rows.
 * Dead letters wait for a person to look at them: 30 days, and no count limit, so a burst of failures
 * never pushes older ones out before anyone has seen them. The throughput history: 7 days, the longest
 * period its reads cover.
 */
export const DEFAULT_RETENTION: Readonly<Retention> = Object.freeze({
  historyMaxAgeMs: 14 * DAY,
  historyMaxCount: 1_000_000,
  deadLetterMaxAgeMs: 30 * DAY,
  deadLetterMaxCount: null,
  statsMaxAgeMs: 7 * DAY,
});

export const RETENTION_KEYS: readonly RetentionKey[] = [
  'historyMaxAgeMs',
  'historyMaxCount',
  'deadLetterMaxAgeMs',
  'deadLetterMaxCount',
  'statsMaxAgeMs',
];

/** Shortest age limit: a minute, so a typo in seconds cannot empty a table at once. */
export const MIN_RETENTION_AGE_MS = 60_000;
const MAX_COUNT = 1_000_000_000;

function checkValue(key: RetentionKey, value: unknown, field: string): number | null | 'default' {
  if (value === null || value === 'default') return value;
  const isAge = key.endsWith('AgeMs');
  const [min, max] = isAge ? [MIN_RETENTION_AGE_MS, LIMITS.maxDelayMs] : [0, MAX_COUNT];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(
      `${field}.${key}`,
      value,
      `must be ${isAge ? 'a whole number of milliseconds' : 'an integer'} from ${min} to ${max}, null (no limit) or 'default'`,
    );
  }
  return value;
}

/** Validates a patch (closed keys, ranges); throws ValidationError before anything is written. */
export function checkRetentionPatch(value: unknown, field = 'retention'): RetentionPatch {
  if (!isPlainObject(value)) throw new ValidationError(field, value, 'must be an object of retention limits');
  const out: RetentionPatch = {};
  for (const [key, v] of Object.entries(value)) {
    if (!RETENTION_KEYS.includes(key as RetentionKey)) {
      throw new ValidationError(
        `${field}.${key}`,
        v,
        `unknown option (allowed: ${RETENTION_KEYS.join(', ')})`,
      );
    }
    if (v === undefined) continue;
    out[key as RetentionKey] = checkValue(key as RetentionKey, v, field);
  }
  return out;
}

/**
 * The effective retention from what is stored (only the keys set away from the default). A stored value
 * that does not parse (written by hand) falls back to the default rather than pruning on a guess.
 */
export function effectiveRetention(stored: unknown): Retention {
  const out: Retention = { ...DEFAULT_RETENTION };
  if (!isPlainObject(stored)) return out;
  for (const key of RETENTION_KEYS) {
    if (!(key in stored)) continue;
    try {
      const v = checkValue(key, stored[key], 'stored');
      out[key] = v === 'default' ? DEFAULT_RETENTION[key] : v;
    } catch {
      // keep the default
    }
  }
  return out;
}
