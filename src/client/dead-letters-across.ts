import { decodeCursor, encodeCursor } from '../core/cursor.js';
import { validateQueueName } from '../core/identifiers.js';
import { toJobId } from '../core/ids.js';
import { DEFAULT_PAGE_SIZE, normalizeFilter } from '../core/job-filter.js';
import { LIMITS, checkOptions, intInRange } from '../core/validate.js';
import { dlqCountAcross, dlqListAcross, type DlqAcrossKeyset } from '../db/queries/dlq-across.js';
import { toDeadJob } from '../db/rows.js';
import { QueueNotFoundError, ValidationError } from '../errors.js';
import type { DeadJob, DeadJobFilter, JobId, Page, PageOptions } from '../types.js';
import type { DeadLetters } from './dead-letters.js';
import type { OverviewCount } from './queue-overview.js';
import type { QueueInfo } from '../db/queries/queue.js';
import type { Executor } from '../db/executor.js';

/** Which dead letters: those of `queues` (default: every queue) matching `filter`. */
export interface DeadLetterSelection {
  queues?: readonly string[];
  filter?: DeadJobFilter;
}

export interface ListDeadLettersAcrossOptions extends DeadLetterSelection, PageOptions {}

export interface RetryMatchingOptions extends DeadLetterSelection {
  /** Where the previous call stopped (its `nextCursor`). */
  cursor?: string | null;
  /** Dead letters retried by this call, 1–1,000. Default 500. */
  limit?: number;
}

export interface RetryMatchingResult {
  /** Each dead letter retried: its queue, its dead-letter id and the new job's id. */
  retried: { queue: string; id: JobId; jobId: JobId }[];
  /** Dead letters listed but gone before their retry (deleted or retried meanwhile). */
  missing: number;
  /** Pass back as `cursor` to go on; null when every matching dead letter has been walked. */
  nextCursor: string | null;
}

const CURSOR_KIND = 'dlq-across:failed-desc';
const FAILED_AT_KEY = /^[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$/;
const DEFAULT_RETRY_LIMIT = 500;
const DEFAULT_COUNT_CAP = 10_000;

/**
 * The dead letters of every queue as one listing (`arbiter.deadLetters`), most recently failed first:
 * what an operator looks at first, before knowing which queue failed. Each page reads at most a page of
 * each queue's failed-time index (unfiltered), never a whole table.
 */
/** What the cross-queue view needs of its Arbiter: the database, the schema, the queues and their handles. */
export interface QueueDirectory {
  readonly db: Executor;
  readonly schema: string;
  listQueues(): Promise<QueueInfo[]>;
  queue(name: string): { readonly dlq: Pick<DeadLetters, 'retryMany'> };
}

export class DeadLettersAcrossQueues {
  constructor(private readonly arbiter: QueueDirectory) {}

  /** A page of dead letters (each with its `queue`), keyset-paginated across queues; `limit` 1–1,000. */
  async list(options: ListDeadLettersAcrossOptions = {}): Promise<Page<DeadJob>> {
    const o = checkOptions<ListDeadLettersAcrossOptions>(options, 'options', [
      'queues',
      'filter',
      'limit',
      'cursor',
    ]);
    const limit =
      o.limit === undefined ? DEFAULT_PAGE_SIZE : intInRange(o.limit, 'options.limit', 1, LIMITS.maxPageSize);
    return this.page(o, limit, o.cursor, 'options');
  }

  /**
   * How many dead letters match, counting at most `cap` (default 10,000) per queue: past it the count is
   * a lower bound (`kind: 'atLeast'`). For a confirmation before a bulk action, not for polling.
   */
  async count(options: DeadLetterSelection & { cap?: number } = {}): Promise<OverviewCount> {
    const o = checkOptions<DeadLetterSelection & { cap: number }>(options, 'options', [
      'queues',
      'filter',
      'cap',
    ]);
    const cap = o.cap === undefined ? DEFAULT_COUNT_CAP : intInRange(o.cap, 'options.cap', 1, 1_000_000);
    const spec = normalizeFilter(o.filter, 'options.filter', 'dlq');
    const queues = await this.queues(o.queues);
    const counts = await dlqCountAcross(this.arbiter.db, this.arbiter.schema, queues, spec, cap);
    let value = 0;
    let exact = true;
    for (const n of counts.values()) {
      if (n > cap) exact = false;
      value += Math.min(n, cap);
    }
    return { value, exact, kind: exact ? 'exact' : 'atLeast' };
  }

  /**
   * Retries the next `limit` matching dead letters (one transaction per queue, as `dlq.retryMany`) and
   * says where it stopped: call again with `nextCursor` until it is null. The walk follows the listing's
   * keyset, so a retried job that fails again (and re-enters the table) is not retried twice by one walk.
   */
  async retryMatching(options: RetryMatchingOptions = {}): Promise<RetryMatchingResult> {
    const o = checkOptions<RetryMatchingOptions>(options, 'options', ['queues', 'filter', 'cursor', 'limit']);
    const limit =
      o.limit === undefined
        ? DEFAULT_RETRY_LIMIT
        : intInRange(o.limit, 'options.limit', 1, LIMITS.maxPageSize);
    const page = await this.page(o, limit, o.cursor, 'options');
    const byQueue = new Map<string, JobId[]>();
    for (const d of page.items) byQueue.set(d.queue, [...(byQueue.get(d.queue) ?? []), d.id]);
    const retried: RetryMatchingResult['retried'] = [];
    let missing = 0;
    for (const [queue, ids] of byQueue) {
      const out = await this.arbiter.queue(queue).dlq.retryMany(ids);
      for (const r of out.retried) retried.push({ queue, id: r.id, jobId: r.job.id });
      missing += out.missing.length;
    }
    return { retried, missing, nextCursor: page.nextCursor };
  }

  private async page(
    o: Partial<ListDeadLettersAcrossOptions>,
    limit: number,
    cursor: string | null | undefined,
    field: string,
  ): Promise<Page<DeadJob>> {
    const spec = normalizeFilter(o.filter, `${field}.filter`, 'dlq');
    const after = cursor === undefined || cursor === null ? null : parseCursor(cursor, `${field}.cursor`);
    const queues = await this.queues(o.queues);
    // One row more than asked tells whether another page exists.
    const rows = await dlqListAcross(this.arbiter.db, this.arbiter.schema, queues, spec, after, limit + 1);
    const items = rows.slice(0, limit);
    const last = rows.length > limit ? items[items.length - 1] : undefined;
    return {
      items: items.map((r) => toDeadJob(r.queue, r)),
      nextCursor: last ? encodeCursor(CURSOR_KIND, [last.failed_at_key, last.queue, last.id]) : null,
    };
  }

  /** The queues asked for (validated, each must exist), or every queue. */
  private async queues(asked: readonly string[] | undefined): Promise<string[]> {
    const existing = (await this.arbiter.listQueues()).map((q) => q.name);
    if (asked === undefined) return existing;
    if (!Array.isArray(asked))
      throw new ValidationError('options.queues', asked, 'must be an array of queue names');
    const names = [...new Set(asked.map((name, i) => validateQueueName(name, `options.queues[${i}]`)))];
    const missing = names.find((n) => !existing.includes(n));
    if (missing !== undefined) throw new QueueNotFoundError(this.arbiter.schema, missing);
    return names;
  }
}

function parseCursor(value: unknown, field: string): DlqAcrossKeyset {
  const [failedAt, queue, id] = decodeCursor(value, field, CURSOR_KIND, 3) as [string, string, string];
  const bad = () => new ValidationError(field, value, 'is not a cursor returned by this listing');
  if (!FAILED_AT_KEY.test(failedAt)) throw bad();
  try {
    return { failedAt, queue: validateQueueName(queue, field), id: toJobId(id, field) };
  } catch {
    throw bad();
  }
}
