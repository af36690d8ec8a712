import { ValidationError } from '../errors.js';
import { JOB_STATUSES, type JobId, type JobStatus } from '../types.js';
import { decodeCursor } from './cursor.js';
import { toJobId, toJobIds } from './ids.js';
import { encodePayload } from './payload.js';
import { LIMITS, checkOptions, intInRange, isPlainObject, optionalKey, validDate } from './validate.js';

/** Which table a filter runs against: the live job table or the dead-letter table. */
export type FilterTable = 'jobs' | 'dlq';

/** A validated JobFilter / DeadJobFilter, ready for the SQL builder (src/db/queries/filters.ts). */
export interface FilterSpec {
  statuses?: JobStatus[];
  groupKey?: string | null;
  parentId?: JobId | null;
  createdAfter?: Date;
  createdBefore?: Date;
  failedAfter?: Date;
  failedBefore?: Date;
  priority?: number;
  minAttempts?: number;
  hasError?: boolean;
  dedupKey?: string;
  idempotencyKey?: string;
  /** JSON text for `payload @> $n::jsonb`. */
  payloadContains?: string;
  ids?: JobId[];
}

/** The fields of a JobFilter (every outer layer derives its parameter list from these). */
export const JOB_FILTER_KEYS = [
  'status',
  'groupKey',
  'parentId',
  'createdAfter',
  'createdBefore',
  'priority',
  'minAttempts',
  'hasError',
  'dedupKey',
  'idempotencyKey',
  'payloadContains',
  'ids',
] as const;

/** The fields of a DeadJobFilter: a JobFilter's without `status` (every dead letter is `dead`), plus failure times. */
export const DLQ_FILTER_KEYS = [
  ...JOB_FILTER_KEYS.filter((k): k is Exclude<(typeof JOB_FILTER_KEYS)[number], 'status'> => k !== 'status'),
  'failedAfter',
  'failedBefore',
] as const;

/** Largest `payloadContains` document accepted (it is a predicate, not a payload). */
const MAX_CONTAINS_BYTES = 64 * 1024;

function requiredKey(value: unknown, field: string): string {
  const key = optionalKey(value, field);
  if (key === null) throw new ValidationError(field, value, 'must be a non-empty string');
  return key;
}

/** Validates a JobFilter (or, for the DLQ, a DeadJobFilter). Unknown keys are errors. */
export function normalizeFilter(raw: unknown, field: string, table: FilterTable): FilterSpec {
  const o = checkOptions<Record<string, unknown>>(
    raw,
    field,
    table === 'dlq' ? DLQ_FILTER_KEYS : JOB_FILTER_KEYS,
  );
  const spec: FilterSpec = {};
  if (o.status !== undefined) {
    const list: unknown[] = Array.isArray(o.status) ? o.status : [o.status];
    spec.statuses = [
      ...new Set(
        list.map((s, i) => {
          if (typeof s !== 'string' || !(JOB_STATUSES as readonly string[]).includes(s)) {
            const at = Array.isArray(o.status) ? `${field}.status[${i}]` : `${field}.status`;
            throw new ValidationError(at, s, `must be one of ${JOB_STATUSES.join(', ')}`);
          }
          return s as JobStatus;
        }),
      ),
    ];
  }
  if (o.groupKey !== undefined) {
    spec.groupKey = o.groupKey === null ? null : requiredKey(o.groupKey, `${field}.groupKey`);
  }
  if (o.parentId !== undefined) {
    spec.parentId = o.parentId === null ? null : toJobId(o.parentId, `${field}.parentId`);
  }
  for (const key of ['createdAfter', 'createdBefore', 'failedAfter', 'failedBefore'] as const) {
    if (o[key] !== undefined) spec[key] = validDate(o[key], `${field}.${key}`);
  }
  if (o.priority !== undefined) {
    spec.priority = intInRange(o.priority, `${field}.priority`, LIMITS.minPriority, LIMITS.maxPriority);
  }
  if (o.minAttempts !== undefined) {
    spec.minAttempts = intInRange(o.minAttempts, `${field}.minAttempts`, 0, LIMITS.maxAttempts);
  }
  if (o.hasError !== undefined) {
    if (typeof o.hasError !== 'boolean')
      throw new ValidationError(`${field}.hasError`, o.hasError, 'must be a boolean');
    spec.hasError = o.hasError;
  }
  if (o.dedupKey !== undefined) spec.dedupKey = requiredKey(o.dedupKey, `${field}.dedupKey`);
  if (o.idempotencyKey !== undefined)
    spec.idempotencyKey = requiredKey(o.idempotencyKey, `${field}.idempotencyKey`);
  if (o.payloadContains !== undefined) {
    if (!isPlainObject(o.payloadContains) && !Array.isArray(o.payloadContains)) {
      throw new ValidationError(
        `${field}.payloadContains`,
        o.payloadContains,
        'must be a JSON object or array',
      );
    }
    spec.payloadContains = encodePayload(o.payloadContains, MAX_CONTAINS_BYTES);
  }
  if (o.ids !== undefined) spec.ids = toJobIds(o.ids, `${field}.ids`);
  return spec;
}

export const DEFAULT_PAGE_SIZE = 50;

/** Keyset cursor of the id-descending listings of live jobs. */
export const JOB_CURSOR_KIND = 'jobs:id-desc';

export interface PageRequest {
  limit: number;
  /** Resume strictly below this id; null for the first page. */
  beforeId: JobId | null;
}

/** Validates `limit` (1–1000, default 50) and an id cursor from an options object already checked. */
export function pageRequest(o: { limit?: unknown; cursor?: unknown }, field: string): PageRequest {
  const limit =
    o.limit === undefined ? DEFAULT_PAGE_SIZE : intInRange(o.limit, `${field}.limit`, 1, LIMITS.maxPageSize);
  if (o.cursor === undefined || o.cursor === null) return { limit, beforeId: null };
  const [id] = decodeCursor(o.cursor, `${field}.cursor`, JOB_CURSOR_KIND, 1);
  try {
    return { limit, beforeId: toJobId(id, `${field}.cursor`) };
  } catch {
    throw new ValidationError(`${field}.cursor`, o.cursor, 'is not a cursor returned by this listing');
  }
}
