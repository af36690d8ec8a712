import type { Command } from 'commander';
import { JOB_STATUSES, type DeadJobFilter, type JobFilter, type JobStatus } from '../types.js';
import { parseDate, parseInteger, parseJson, parseList } from './parse.js';

/** The JobFilter options as commander gives them (see addFilterOptions). */
export interface FilterOptions {
  status?: string[];
  group?: string | false;
  parent?: string | false;
  createdAfter?: Date;
  createdBefore?: Date;
  failedAfter?: Date;
  failedBefore?: Date;
  priority?: number;
  minAttempts?: number;
  hasError?: boolean;
  dedupKey?: string;
  idempotencyKey?: string;
  payloadContains?: unknown;
  ids?: string[];
}

/**
 * Adds one option per JobFilter field, or per DeadJobFilter field for the DLQ (no `--status`: every dead
 * letter is `dead`; the failure times instead).
 */
export function addFilterOptions(cmd: Command, table: 'jobs' | 'dlq'): Command {
  if (table === 'jobs') {
    const live = JOB_STATUSES.filter((s) => s !== 'dead').join(', ');
    cmd.option('--status <list>', `only these states, comma-separated or repeated (${live})`, parseList);
  }
  cmd
    .option('--group <key>', 'only jobs of this group')
    .option('--no-group', 'only jobs without a group')
    .option('--parent <id>', 'only children of this job')
    .option('--no-parent', 'only jobs without a parent')
    .option('--created-after <date>', 'created strictly after this ISO-8601 time', parseDate)
    .option('--created-before <date>', 'created strictly before this ISO-8601 time', parseDate);
  if (table === 'dlq') {
    cmd
      .option('--failed-after <date>', 'dead-lettered strictly after this ISO-8601 time', parseDate)
      .option('--failed-before <date>', 'dead-lettered strictly before this ISO-8601 time', parseDate);
  }
  return cmd
    .option('--priority <n>', 'exactly this priority', parseInteger)
    .option('--min-attempts <n>', 'claimed at least this many times', parseInteger)
    .option('--has-error', 'only jobs with a recorded error')
    .option('--no-has-error', 'only jobs without a recorded error')
    .option('--dedup-key <key>', 'only the job holding this dedup key')
    .option('--idempotency-key <key>', 'only the job holding this idempotency key')
    .option(
      '--payload-contains <json>',
      'payload contains this JSON (PostgreSQL @>), e.g. \'{"user":7}\'',
      parseJson,
    )
    .option('--ids <list>', 'only these ids, comma-separated or repeated', parseList);
}

/**
 * Builds the filter object the admin modules validate. Values are passed through as typed; the admin layer
 * binds every one as a query parameter, so `' OR 1=1 --` is just a group key nobody has.
 */
export function toFilter(o: FilterOptions, table: 'dlq'): DeadJobFilter;
export function toFilter(o: FilterOptions, table: 'jobs'): JobFilter;
export function toFilter(o: FilterOptions, table: 'jobs' | 'dlq'): JobFilter | DeadJobFilter {
  const f: JobFilter & DeadJobFilter = {};
  if (o.status !== undefined && table === 'jobs') f.status = o.status as JobStatus[];
  if (o.group !== undefined) f.groupKey = o.group === false ? null : o.group;
  if (o.parent !== undefined) f.parentId = o.parent === false ? null : o.parent;
  if (o.createdAfter !== undefined) f.createdAfter = o.createdAfter;
  if (o.createdBefore !== undefined) f.createdBefore = o.createdBefore;
  if (table === 'dlq') {
    if (o.failedAfter !== undefined) f.failedAfter = o.failedAfter;
    if (o.failedBefore !== undefined) f.failedBefore = o.failedBefore;
  }
  if (o.priority !== undefined) f.priority = o.priority;
  if (o.minAttempts !== undefined) f.minAttempts = o.minAttempts;
  if (o.hasError !== undefined) f.hasError = o.hasError;
  if (o.dedupKey !== undefined) f.dedupKey = o.dedupKey;
  if (o.idempotencyKey !== undefined) f.idempotencyKey = o.idempotencyKey;
  if (o.payloadContains !== undefined) f.payloadContains = o.payloadContains as Record<string, unknown>;
  if (o.ids !== undefined) f.ids = o.ids;
  return f;
}
