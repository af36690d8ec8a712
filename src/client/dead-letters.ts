import type { QueueContext } from './context.js';
import { toFence, truncateError } from '../core/fence.js';
import { decodeCursor, encodeCursor } from '../core/cursor.js';
import { toJobId, toJobIds } from '../core/ids.js';
import { DEFAULT_PAGE_SIZE, normalizeFilter, type FilterSpec } from '../core/job-filter.js';
import { LIMITS, batchArray, checkOptions, intInRange, isPlainObject } from '../core/validate.js';
import { withTranslation } from '../db/errors.js';
import {
  dlqCount,
  dlqDelete,
  dlqExists,
  dlqGet,
  dlqList,
  dlqRetry,
  dlqRetryMany,
  type DlqKeyset,
} from '../db/queries/dlq.js';
import {
  dlqMoveFenced,
  dlqMoveStandalone,
  dlqReapExhausted,
  type DlqMoveItem,
} from '../db/queries/dlq-move.js';
import { toDeadJob, toJob } from '../db/rows.js';
import { ValidationError } from '../errors.js';
import type {
  DeadJob,
  DeadJobFilter,
  DeadLetterRequest,
  Job,
  JobId,
  JobRef,
  ListDeadJobsOptions,
  Page,
  PageOptions,
} from '../types.js';

type IdInput = JobId | number | bigint;

/** What `dlq.retryMany` did: each dead letter retried (its dead-letter `id` and the new job), and ids not found. */
export interface DeadLetterRetryResult<T = unknown> {
  retried: { id: JobId; job: Job<T> }[];
  missing: JobId[];
}

const CURSOR_KIND = 'dlq:failed-desc';
const FAILED_AT_KEY = /^[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$/;
const DEFAULT_REAP_LIMIT = 1000;

/**
 * The dead-letter table of a queue (`queue.dlq`): move jobs in, inspect, retry, delete.
 *
 * Moving a job that has children moves its whole subtree (the children cannot finish without it); each
 * descendant records `ancestor <id> was dead-lettered`. Moving or deleting a child wakes its waiting
 * parent once no sibling is left in the queue, so the parent's completion round sees the failure.
 */
export class DeadLetters<T = unknown> {
  constructor(protected readonly ctx: QueueContext) {}

  /**
   * Moves a held job (and its descendants) to the dead-letter table with `error`.
   * Fenced: returns 1, or 0 with nothing changed when the caller no longer holds the job.
   */
  async move(job: JobRef, error: string): Promise<number> {
    const fence = toFence(job);
    const item: DlqMoveItem = { ...fence, error: errorText(error, 'error') };
    const { db, t } = this.ctx;
    return withTranslation(this.ctx, async () => {
      if (await dlqMoveStandalone(db, t, item)) return 1;
      return (await db.transaction((tx) => dlqMoveFenced(tx, t, [item]))).length;
    });
  }

  /**
   * Moves several held jobs in one transaction, each with its own error. Jobs
   * whose lease was lost are skipped silently. Returns how many of the given jobs were moved.
   */
  async moveMany(items: readonly DeadLetterRequest[]): Promise<number> {
    const list = batchArray(items, 'items').map((raw, i): DlqMoveItem => {
      if (!isPlainObject(raw)) throw new ValidationError(`items[${i}]`, raw, 'must be { job, error }');
      const o = checkOptions<DeadLetterRequest>(raw, `items[${i}]`, ['job', 'error']);
      return {
        ...toFence(o.job as JobRef, `items[${i}].job`),
        error: errorText(o.error, `items[${i}].error`),
      };
    });
    if (list.length === 0) return 0;
    const { db, t } = this.ctx;
    return withTranslation(
      this.ctx,
      async () => (await db.transaction((tx) => dlqMoveFenced(tx, t, list))).length,
    );
  }

  /**
   * Dead-letters jobs whose lease expired on their final attempt (their worker was lost; the claim will
   * not take them again), with their descendants. Up to `limit` (default 1,000) per call; returns how many.
   */
  async reapExhausted(options: { limit?: number } = {}): Promise<number> {
    const o = checkOptions<{ limit: number }>(options, 'options', ['limit']);
    const limit =
      o.limit === undefined ? DEFAULT_REAP_LIMIT : intInRange(o.limit, 'options.limit', 1, LIMITS.maxBatch);
    return withTranslation(this.ctx, () => dlqReapExhausted(this.ctx.db, this.ctx.t, limit));
  }

  /**
   * Puts a dead letter back in the queue as a new job: new id, attempts 0, no
   * error, no dedup key; the idempotency key only if no live job holds it; the parent only if it is still
   * in the queue; the parent_state snapshot kept. Returns the new job, or null when `id` is not in the table.
   */
  async retry(id: IdInput): Promise<Job<T> | null> {
    const dlqId = toJobId(id, 'id');
    const { db, t, name } = this.ctx;
    const row = await withTranslation(this.ctx, () => db.transaction((tx) => dlqRetry(tx, t, dlqId)));
    return row ? toJob<T>(name, row) : null;
  }

  /**
   * retry for many dead letters in one transaction: all of them come back, or (on an error) none. Ids are
   * validated before any I/O; duplicates count once; a dead parent listed with its dead children is retried
   * first, so they attach to the new parent. Returns the new jobs (`retried`, in the order given, each with
   * its dead-letter id) and the ids that were not in the table (`missing`). At most 10,000 ids per call.
   */
  async retryMany(ids: readonly IdInput[]): Promise<DeadLetterRetryResult<T>> {
    const list = [...new Set(toJobIds(ids, 'ids', LIMITS.maxBatch))];
    if (list.length === 0) return { retried: [], missing: [] };
    const { db, t, name } = this.ctx;
    const rows = await withTranslation(this.ctx, () => db.transaction((tx) => dlqRetryMany(tx, t, list)));
    const retried: DeadLetterRetryResult<T>['retried'] = [];
    const missing: JobId[] = [];
    for (const id of list) {
      const row = rows.get(id);
      if (row) retried.push({ id, job: toJob<T>(name, row) });
      else missing.push(id);
    }
    return { retried, missing };
  }

  async exists(id: IdInput): Promise<boolean> {
    const dlqId = toJobId(id, 'id');
    return withTranslation(this.ctx, () => dlqExists(this.ctx.db, this.ctx.t, dlqId));
  }

  async get(id: IdInput): Promise<DeadJob<T> | null> {
    const dlqId = toJobId(id, 'id');
    const row = await withTranslation(this.ctx, () => dlqGet(this.ctx.db, this.ctx.t, dlqId));
    return row ? toDeadJob<T>(this.ctx.name, row) : null;
  }

  /**
   * Dead letters, most recently failed first, keyset-paginated:
   * pass `nextCursor` back as `cursor`. `limit` 1–1,000, default 50.
   */
  async list(options: ListDeadJobsOptions = {}): Promise<Page<DeadJob<T>>> {
    const o = checkOptions<ListDeadJobsOptions>(options, 'options', ['filter', 'limit', 'cursor']);
    const spec = normalizeFilter(o.filter, 'options.filter', 'dlq');
    return this.page(spec, o, 'options');
  }

  /** How many dead letters match `filter` (all when omitted), with the same filter as `list`. */
  async count(filter?: DeadJobFilter): Promise<number> {
    const spec = normalizeFilter(filter, 'filter', 'dlq');
    return withTranslation(this.ctx, () => dlqCount(this.ctx.db, this.ctx.t, spec));
  }

  /**
   * Deletes a dead letter for good. A deleted child's waiting parent resumes for
   * its completion round when no sibling is left in the queue. Returns 1, or 0 when it did not exist.
   */
  async delete(id: IdInput): Promise<number> {
    const dlqId = toJobId(id, 'id');
    const { db, t } = this.ctx;
    return withTranslation(this.ctx, () => db.transaction((tx) => dlqDelete(tx, t, [dlqId])));
  }

  /** Deletes several dead letters in one transaction. Returns how many. */
  async deleteMany(ids: readonly IdInput[]): Promise<number> {
    const list = [...new Set(toJobIds(ids, 'ids', LIMITS.maxBatch))];
    if (list.length === 0) return 0;
    const { db, t } = this.ctx;
    return withTranslation(this.ctx, () => db.transaction((tx) => dlqDelete(tx, t, list)));
  }

  private async page(spec: FilterSpec, o: Partial<PageOptions>, field: string): Promise<Page<DeadJob<T>>> {
    const limit =
      o.limit === undefined
        ? DEFAULT_PAGE_SIZE
        : intInRange(o.limit, `${field}.limit`, 1, LIMITS.maxPageSize);
    const after =
      o.cursor === undefined || o.cursor === null ? null : parseCursor(o.cursor, `${field}.cursor`);
    // One extra row tells whether another page exists, so the last page has no cursor.
    const rows = await withTranslation(this.ctx, () =>
      dlqList(this.ctx.db, this.ctx.t, spec, after, limit + 1),
    );
    const more = rows.length > limit;
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((r) => toDeadJob<T>(this.ctx.name, r)),
      nextCursor: more && last ? encodeCursor(CURSOR_KIND, [last.failed_at_key, last.id]) : null,
    };
  }
}

// Any string is accepted (NUL is stripped, length capped): a failing job must always be able to leave.
function errorText(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ValidationError(field, value, 'must be a string');
  return truncateError(value);
}

function parseCursor(value: unknown, field: string): DlqKeyset {
  const [failedAt, id] = decodeCursor(value, field, CURSOR_KIND, 2) as [string, string];
  if (!FAILED_AT_KEY.test(failedAt))
    throw new ValidationError(field, value, 'is not a cursor returned by this listing');
  try {
    return { failedAt, id: toJobId(id, field) };
  } catch {
    throw new ValidationError(field, value, 'is not a cursor returned by this listing');
  }
}
