import { BatchTooLargeError, ValidationError } from '../errors.js';
import type { JobId } from '../types.js';

const MAX_BIGINT = 9223372036854775807n;

export function toJobId(value: unknown, field = 'id'): JobId {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return String(value);
  } else if (typeof value === 'bigint') {
    if (value > 0n && value <= MAX_BIGINT) return value.toString();
  } else if (typeof value === 'string' && /^[1-9][0-9]{0,18}$/.test(value)) {
    if (BigInt(value) <= MAX_BIGINT) return value;
  }
  throw new ValidationError(field, value, 'must be a positive 64-bit integer id');
}

/** Orders job ids numerically (decimal strings without leading zeros: by length, then by digits). */
export function compareJobIds(a: JobId, b: JobId): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function toJobIds(values: unknown, field = 'ids', max = 10_000): JobId[] {
  if (!Array.isArray(values)) throw new ValidationError(field, values, 'must be an array of job ids');
  if (values.length > max) throw new BatchTooLargeError(field, values.length, max, 'ids per call');
  return values.map((v, i) => toJobId(v, `${field}[${i}]`));
}
