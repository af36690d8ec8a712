import type { FilterSpec, FilterTable } from '../../core/job-filter.js';
import type { JobStatus } from '../../types.js';
import { waitsForDependencies, type QueueTables } from '../sql.js';

/** Collects bound values; `add` returns the `$n` placeholder to splice into the text. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The WHERE predicate of each status of a live job row. Kept in step with statusExpression (rows.ts):
 * each predicate is that CASE's branch plus the negation of every earlier branch, so every row matches
 * exactly one status and list/count agree with the `status` the rows report.
 */
export function statusPredicate(t: QueueTables, status: JobStatus, alias: string): string {
  const a = alias;
  const notRunning = `(${a}.leased_until IS NULL OR ${a}.leased_until <= now())`;
  // A parent waiting for its children, or a job waiting for its dependencies (flows).
  const hasChildren = `(EXISTS (SELECT 1 FROM ${t.jobs} wc WHERE wc.parent_id = ${a}.id) OR ${waitsForDependencies(t, a)})`;
  const notExhausted = `(${a}.leased_until IS NULL OR ${a}.attempts < ${a}.max_attempts)`;
  const live = `${notRunning} AND NOT ${a}.suspended AND ${notExhausted}`;
  switch (status) {
    case 'in-flight':
      return `${a}.leased_until > now()`;
    case 'waiting':
      return `(${notRunning} AND ${a}.suspended AND ${hasChildren})`;
    case 'suspended':
      return `(${notRunning} AND ${a}.suspended AND NOT ${hasChildren})`;
    case 'exhausted':
      return `(${notRunning} AND NOT ${a}.suspended AND ${a}.leased_until IS NOT NULL AND ${a}.attempts >= ${a}.max_attempts)`;
    case 'retrying':
      return `(${live} AND ${a}.run_at > now() AND ${a}.attempts > 0)`;
    case 'scheduled':
      return `(${live} AND ${a}.run_at > now() AND ${a}.attempts = 0)`;
    case 'ready':
      return `(${live} AND ${a}.run_at <= now())`;
    case 'dead':
      return 'false';
  }
}

/**
 * Ready jobs as the claim sees them: status `ready` plus the attempts cap the claim applies (a due job
 * with no attempt left is never claimed). Group serialization is not applied: see "claimable".
 */
export function readyPredicate(t: QueueTables, alias: string): string {
  return `(${statusPredicate(t, 'ready', alias)} AND ${alias}.attempts < ${alias}.max_attempts)`;
}

/**
 * Builds the AND of a validated filter's predicates over `alias` of the given table kind, binding every
 * value through `params`. Returns `true` for an empty filter. The dead-letter table has no lease or
 * schedule columns: every row there is `dead`, and `ids` match its own (dead-letter) id.
 */
export function filterWhere(
  t: QueueTables,
  table: FilterTable,
  spec: FilterSpec,
  alias: string,
  params: SqlParams,
): string {
  const a = alias;
  const parts: string[] = [];
  if (spec.statuses !== undefined) {
    const ors =
      table === 'dlq'
        ? spec.statuses.map((s) => (s === 'dead' ? 'true' : 'false'))
        : spec.statuses.map((s) => statusPredicate(t, s, a));
    parts.push(ors.length === 0 ? 'false' : `(${ors.join(' OR ')})`);
  }
  if (spec.groupKey !== undefined) {
    parts.push(
      spec.groupKey === null ? `${a}.group_key IS NULL` : `${a}.group_key = ${params.add(spec.groupKey)}`,
    );
  }
  if (spec.parentId !== undefined) {
    parts.push(
      spec.parentId === null
        ? `${a}.parent_id IS NULL`
        : `${a}.parent_id = ${params.add(spec.parentId)}::bigint`,
    );
  }
  if (spec.createdAfter) parts.push(`${a}.created_at > ${params.add(spec.createdAfter)}::timestamptz`);
  if (spec.createdBefore) parts.push(`${a}.created_at < ${params.add(spec.createdBefore)}::timestamptz`);
  if (table === 'dlq') {
    if (spec.failedAfter) parts.push(`${a}.failed_at > ${params.add(spec.failedAfter)}::timestamptz`);
    if (spec.failedBefore) parts.push(`${a}.failed_at < ${params.add(spec.failedBefore)}::timestamptz`);
  }
  if (spec.priority !== undefined) parts.push(`${a}.priority = ${params.add(spec.priority)}::smallint`);
  if (spec.minAttempts !== undefined) parts.push(`${a}.attempts >= ${params.add(spec.minAttempts)}::int`);
  if (spec.hasError !== undefined) parts.push(`${a}.last_error IS ${spec.hasError ? 'NOT ' : ''}NULL`);
  if (spec.dedupKey !== undefined) parts.push(`${a}.dedup_key = ${params.add(spec.dedupKey)}`);
  if (spec.idempotencyKey !== undefined)
    parts.push(`${a}.idempotency_key = ${params.add(spec.idempotencyKey)}`);
  if (spec.payloadContains !== undefined)
    parts.push(`${a}.payload @> ${params.add(spec.payloadContains)}::jsonb`);
  if (spec.ids !== undefined) parts.push(`${a}.id = ANY(${params.add(spec.ids)}::bigint[])`);
  return parts.length === 0 ? 'true' : parts.join(' AND ');
}
