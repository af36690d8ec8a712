import { JOB_STATUSES } from '../types.js';
import { DLQ_FILTER_PARAMS, JOB_FILTER_PARAMS } from './params.js';
import type { JsonSchema, QueryParamDoc } from './route.js';
import { bool, dateTime, id, int, str } from './schema-parts.js';

// The documented query parameters of the listing routes (filters and pages), for the OpenAPI document.

const FILTER_DOCS: Record<string, [string, JsonSchema]> = {
  status: [`Comma-separated statuses: ${JOB_STATUSES.join(', ')}.`, str],
  groupKey: ['Jobs of this group.', str],
  noGroup: ['true: only jobs without a group.', bool],
  parentId: ['Children of this job.', id],
  noParent: ['true: only jobs without a parent.', bool],
  createdAfter: ['Created strictly after (ISO 8601).', dateTime],
  createdBefore: ['Created strictly before (ISO 8601).', dateTime],
  failedAfter: ['Dead-lettered strictly after (ISO 8601).', dateTime],
  failedBefore: ['Dead-lettered strictly before (ISO 8601).', dateTime],
  priority: ['Exactly this priority.', int],
  minAttempts: ['Claimed at least this many times.', int],
  hasError: ['true: has a recorded error; false: has none.', bool],
  dedupKey: ['Exactly this dedup key.', str],
  idempotencyKey: ['Exactly this idempotency key.', str],
  payloadContains: ['JSON the payload must contain (PostgreSQL @>).', str],
  ids: ['Comma-separated ids.', str],
};

export const PAGE_QUERY: readonly QueryParamDoc[] = [
  {
    name: 'limit',
    description: 'Page size, 1–1000. Default 50.',
    schema: { type: 'integer', minimum: 1, maximum: 1000 },
  },
  { name: 'cursor', description: 'nextCursor of the previous page.', schema: str },
];

const doc = (name: string): QueryParamDoc => ({
  name,
  description: FILTER_DOCS[name]![0],
  schema: FILTER_DOCS[name]![1],
});

export const JOB_LIST_QUERY: readonly QueryParamDoc[] = [...JOB_FILTER_PARAMS.map(doc), ...PAGE_QUERY];
export const DLQ_LIST_QUERY: readonly QueryParamDoc[] = [...DLQ_FILTER_PARAMS.map(doc), ...PAGE_QUERY];
const QUEUES_QUERY: QueryParamDoc = {
  name: 'queue',
  description: 'Comma-separated queue names. Default: every queue.',
  schema: str,
};
/** The filters of the dead-letter listing across queues (and of its count and retry by filter). */
export const DLQ_ACROSS_FILTER_QUERY: readonly QueryParamDoc[] = [
  QUEUES_QUERY,
  ...DLQ_FILTER_PARAMS.map(doc),
];
export const DLQ_ACROSS_LIST_QUERY: readonly QueryParamDoc[] = [...DLQ_ACROSS_FILTER_QUERY, ...PAGE_QUERY];
