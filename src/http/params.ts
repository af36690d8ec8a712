import type { DeadJobFilter, JobFilter, JobStatus, PageOptions } from '../types.js';
import { badRequest } from './errors.js';
import { JOB_FILTER_KEYS } from '../core/job-filter.js';

// Query strings are text; these turn them into the typed options the library validates. Shape checks
// happen here (is it an integer, a date, JSON?); range and meaning checks stay in the library, once.

const INT = /^-?[0-9]{1,16}$/;

export function intParam(value: string, field: string): number {
  if (!INT.test(value))
    throw badRequest(field, `must be an integer (got ${JSON.stringify(value.slice(0, 40))})`);
  return Number(value);
}

function dateParam(value: string, field: string): Date {
  // ISO 8601 only: Date.parse accepts many locale-dependent shapes we do not want to promise.
  const d = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? new Date(value) : null;
  if (!d || Number.isNaN(d.getTime())) throw badRequest(field, 'must be an ISO 8601 date-time');
  return d;
}

function boolParam(value: string, field: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(field, 'must be true or false');
}

function listParam(query: URLSearchParams, key: string): string[] {
  return query
    .getAll(key)
    .flatMap((v) => v.split(','))
    .filter((v) => v !== '');
}

/**
 * Query keys of a job listing (documented in the OpenAPI document from the same list): the JobFilter
 * fields, plus noGroup / noParent, which a query string needs to say "is null".
 */
export const JOB_FILTER_PARAMS = [...JOB_FILTER_KEYS, 'noGroup', 'noParent'] as const;
export const DLQ_FILTER_PARAMS = [
  ...JOB_FILTER_PARAMS.filter((k) => k !== 'status'),
  'failedAfter',
  'failedBefore',
] as const;
export const PAGE_PARAMS = ['limit', 'cursor'] as const;

/** Unknown query keys are errors: a typo must not silently widen a listing (or a bulk action). */
export function checkQueryKeys(query: URLSearchParams, allowed: readonly string[]): void {
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw badRequest(key, `unknown query parameter (allowed: ${allowed.join(', ') || 'none'})`);
    }
  }
  for (const key of allowed) {
    if (key !== 'status' && key !== 'ids' && query.getAll(key).length > 1) {
      throw badRequest(key, 'given more than once');
    }
  }
}

export function pageParams(query: URLSearchParams): PageOptions {
  const page: PageOptions = {};
  const limit = query.get('limit');
  if (limit !== null) page.limit = intParam(limit, 'limit');
  const cursor = query.get('cursor');
  if (cursor !== null) page.cursor = cursor;
  return page;
}

/** A job listing's filter from its query (the dead-letter listings' too: their routes allow no `status`). */
export function jobFilterParams(query: URLSearchParams, dlq: boolean): JobFilter & DeadJobFilter {
  const f: JobFilter & DeadJobFilter = {};
  const get = (k: string) => query.get(k);
  const status = listParam(query, 'status');
  // One value stays a string so a bad one is reported as `status`, several as `status[i]`.
  if (status.length === 1) f.status = status[0] as JobStatus;
  else if (status.length > 1) f.status = status as JobStatus[];
  const groupKey = get('groupKey');
  if (groupKey !== null) f.groupKey = groupKey;
  if (get('noGroup') !== null && boolParam(get('noGroup')!, 'noGroup')) {
    if (groupKey !== null) throw badRequest('noGroup', 'give either groupKey or noGroup');
    f.groupKey = null;
  }
  const parentId = get('parentId');
  if (parentId !== null) f.parentId = parentId;
  if (get('noParent') !== null && boolParam(get('noParent')!, 'noParent')) {
    if (parentId !== null) throw badRequest('noParent', 'give either parentId or noParent');
    f.parentId = null;
  }
  const dates = dlq
    ? (['createdAfter', 'createdBefore', 'failedAfter', 'failedBefore'] as const)
    : (['createdAfter', 'createdBefore'] as const);
  for (const key of dates) {
    const v = get(key);
    if (v !== null) f[key] = dateParam(v, key);
  }
  for (const key of ['priority', 'minAttempts'] as const) {
    const v = get(key);
    if (v !== null) f[key] = intParam(v, key);
  }
  const hasError = get('hasError');
  if (hasError !== null) f.hasError = boolParam(hasError, 'hasError');
  for (const key of ['dedupKey', 'idempotencyKey'] as const) {
    const v = get(key);
    if (v !== null) f[key] = v;
  }
  const contains = get('payloadContains');
  if (contains !== null) {
    try {
      f.payloadContains = JSON.parse(contains) as JobFilter['payloadContains'];
    } catch {
      throw badRequest('payloadContains', 'must be a JSON object or array');
    }
  }
  if (query.has('ids')) f.ids = listParam(query, 'ids');
  return f;
}

/** A JSON request body that must be an object (or absent, when `optional`). */
export function objectBody(body: unknown, optional = false): Record<string, unknown> {
  if (body === undefined && optional) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('body', 'must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Rejects body keys outside `allowed`, so options like `tx` can never be passed in from the network. */
export function checkBodyKeys(body: Record<string, unknown>, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw badRequest(`${prefix}${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
    }
  }
}
