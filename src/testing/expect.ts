import type { Queue } from '../client/queue.js';
import { checkOptions, intInRange } from '../core/validate.js';
import { jobSelect, toJob, type JobRow } from '../db/rows.js';
import { ValidationError } from '../errors.js';
import type { Job, JobId, JobStatus } from '../types.js';
import { TestAssertionError } from './errors.js';

/** Every property optional, all the way down; arrays are compared element by element, same length. */
export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** What the enqueued jobs must look like; every field given must match, the rest is ignored. */
export interface EnqueuedMatch<P> {
  /** The payload, partially: objects match when the keys given match (recursively). */
  payload?: DeepPartial<P>;
  groupKey?: string | null;
  priority?: number;
  /** One status, or any of several (`ready`, `scheduled`, `retrying`, …). */
  status?: JobStatus | readonly JobStatus[];
  /** Meta, partially, like the payload. */
  meta?: Record<string, unknown>;
  dedupKey?: string | null;
  idempotencyKey?: string | null;
  parentId?: JobId | null;
  /** Any other condition on the job. */
  where?: (job: Job<P>) => boolean;
  /** Exactly this many jobs must match (0: none may). Default: at least one. */
  count?: number;
}

const KEYS = [
  'payload',
  'groupKey',
  'priority',
  'status',
  'meta',
  'dedupKey',
  'idempotencyKey',
  'parentId',
  'where',
  'count',
] as const;

/** Most jobs read from the queue; a test queue holding more is a test to split. */
const MAX_JOBS = 10_000;
/** Jobs listed in a failure message. */
const LISTED = 20;

/** Whether `actual` has everything `expected` has (objects by the keys given, recursively). */
export function partialMatch(actual: unknown, expected: unknown): boolean {
  if (expected === undefined) return true;
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected);
  if (expected instanceof Date) return actual instanceof Date && actual.getTime() === expected.getTime();
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => partialMatch(actual[i], e))
    );
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([k, v]) => partialMatch((actual as Record<string, unknown>)[k], v));
}

function matches<P>(job: Job<P>, m: EnqueuedMatch<P>): boolean {
  if (!partialMatch(job.payload, m.payload)) return false;
  if (!partialMatch(job.meta, m.meta)) return false;
  for (const key of ['groupKey', 'priority', 'dedupKey', 'idempotencyKey', 'parentId'] as const) {
    if (m[key] !== undefined && job[key] !== m[key]) return false;
  }
  if (m.status !== undefined) {
    const wanted: readonly JobStatus[] = typeof m.status === 'string' ? [m.status] : m.status;
    if (!wanted.includes(job.status)) return false;
  }
  return m.where === undefined || m.where(job);
}

function describeMatch<P>(m: EnqueuedMatch<P>): string {
  const shown = Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'count' && k !== 'where'));
  const text = JSON.stringify(shown);
  return m.where ? `${text} and where(job)` : text;
}

function describeJob(job: Job): string {
  const extras = [
    job.groupKey !== null ? `group ${JSON.stringify(job.groupKey)}` : '',
    job.priority !== 0 ? `priority ${job.priority}` : '',
    job.status === 'scheduled' || job.status === 'retrying' ? `run at ${job.runAt.toISOString()}` : '',
    job.meta ? `meta ${JSON.stringify(job.meta)}` : '',
  ].filter(Boolean);
  return `  #${job.id} ${job.status.padEnd(9)} ${JSON.stringify(job.payload)}${extras.length ? `  (${extras.join(', ')})` : ''}`;
}

/** The jobs in a queue's table (not finished, not dead), in id order. */
export async function enqueuedJobs<P>(queue: Queue<P>): Promise<Job<P>[]> {
  const t = queue.tables;
  const rows = await queue.store.run(async () => {
    const { rows } = await queue.store.db.query<JobRow>(
      `SELECT ${jobSelect(t, 'j')} FROM ${t.jobs} j ORDER BY j.id LIMIT $1`,
      [MAX_JOBS + 1],
    );
    return rows;
  });
  if (rows.length > MAX_JOBS) {
    throw new TestAssertionError(
      'expectEnqueued',
      `queue ${queue.name} holds more than ${MAX_JOBS} jobs; expectEnqueued reads at most that many`,
    );
  }
  return rows.map((r) => toJob<P>(queue.name, r));
}

/**
 * Asserts that the queue holds jobs (enqueued, not yet finished) matching `match`, and returns them.
 * Throws a TestAssertionError listing what the queue does hold when it does not: at least one match
 * by default, exactly `count` with `count` (0: none may match).
 */
export async function expectEnqueued<P>(queue: Queue<P>, match: EnqueuedMatch<P> = {}): Promise<Job<P>[]> {
  const m = checkOptions<EnqueuedMatch<P>>(match, 'match', KEYS) as EnqueuedMatch<P>;
  if (m.count !== undefined) intInRange(m.count, 'match.count', 0, MAX_JOBS);
  if (m.where !== undefined && typeof m.where !== 'function') {
    throw new ValidationError('match.where', m.where, 'must be a function of the job');
  }
  const jobs = await enqueuedJobs(queue);
  const found = jobs.filter((j) => matches(j, m));
  const ok = m.count === undefined ? found.length > 0 : found.length === m.count;
  if (ok) return found;
  const wanted =
    m.count === undefined ? 'at least one job' : `exactly ${m.count} job${m.count === 1 ? '' : 's'}`;
  const listing =
    jobs.length === 0
      ? `the queue is empty`
      : [
          `the queue holds ${jobs.length} job${jobs.length === 1 ? '' : 's'}${found.length ? ` (${found.length} matching)` : ''}:`,
          ...jobs.slice(0, LISTED).map((j) => describeJob(j as Job)),
          ...(jobs.length > LISTED ? [`  … and ${jobs.length - LISTED} more`] : []),
        ].join('\n');
  throw new TestAssertionError(
    'expectEnqueued',
    `expectEnqueued(${queue.name}): expected ${wanted} matching ${describeMatch(m)}, found ${found.length}; ${listing}`,
    { expected: m.count ?? '>= 1', actual: found.length },
  );
}
