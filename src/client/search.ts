import { validateQueueName } from '../core/identifiers.js';
import { isPlainObject, optionalInt } from '../core/validate.js';
import type { Executor } from '../db/executor.js';
import { searchableQueues, searchQueues, type SearchQuery } from '../db/queries/search.js';
import { QueueNotFoundError, ValidationError } from '../errors.js';

/** Queues one statement searches; further queues go in further statements, until `limit` matches. */
const QUEUES_PER_STATEMENT = 50;

export interface SearchOptions {
  /** A job id: found through each table's index, whatever its size (no scan). */
  id?: string;
  /** An object the payload must contain (PostgreSQL @>), e.g. { customer: { id: 'c-1' } }. */
  payload?: Record<string, unknown>;
  /** Text the last error contains, case-insensitive (1 to 200 characters). */
  error?: string;
  /** One queue; default every queue. */
  queue?: string;
  /**
   * Without `id`: how many of the newest rows of each table (live jobs, history, dead letters) are read,
   * 1 to 100,000. Default 1,000. Older rows are not searched (the answer says so).
   */
  scan?: number;
  /** Most matches returned, 1 to 500. Default 50. */
  limit?: number;
}

export interface SearchHit {
  queue: string;
  /** Where it was found: a live job, a kept finished job (history), or a dead letter. */
  source: 'job' | 'history' | 'dead-letter';
  /** The job id (a dead letter's original job id). */
  id: string;
  /** A dead letter's own id (its page's), else null. */
  deadLetterId: string | null;
  payload: unknown;
  lastError: string | null;
  /** When it was created (live job), finished (history) or failed (dead letter). */
  at: Date;
}

export interface SearchResult {
  items: SearchHit[];
  /** 'index' for an id (complete); 'scan' for payload / error (only the newest `scanned` rows per table). */
  mode: 'index' | 'scan';
  /** Rows read at most per table (null for an index search). */
  scanned: number | null;
  queuesSearched: number;
  queuesTotal: number;
  /** True when `limit` matches were found before every queue was searched: more may match. */
  truncated: boolean;
}

const SEARCH_KEYS = ['id', 'payload', 'error', 'queue', 'scan', 'limit'];

export async function search(db: Executor, schema: string, options: SearchOptions): Promise<SearchResult> {
  if (!isPlainObject(options as unknown)) throw new ValidationError('options', options, 'must be an object');
  for (const k of Object.keys(options)) {
    if (!SEARCH_KEYS.includes(k))
      throw new ValidationError(`options.${k}`, undefined, 'is not a search option');
  }
  const q: SearchQuery = {};
  if (options.id !== undefined) {
    if (typeof options.id !== 'string' || !/^[1-9][0-9]{0,18}$/.test(options.id)) {
      throw new ValidationError('id', options.id, 'must be a job id (digits)');
    }
    q.id = options.id;
  }
  if (options.payload !== undefined) {
    if (!isPlainObject(options.payload)) {
      throw new ValidationError('payload', options.payload, 'must be an object the payload contains');
    }
    q.payload = JSON.stringify(options.payload);
  }
  if (options.error !== undefined) {
    if (typeof options.error !== 'string' || options.error.length < 1 || options.error.length > 200) {
      throw new ValidationError('error', options.error, 'must be text of 1 to 200 characters');
    }
    q.error = options.error;
  }
  if (q.id === undefined && q.payload === undefined && q.error === undefined) {
    throw new ValidationError('options', options, 'give at least one of id, payload or error');
  }
  const queue = options.queue ?? null;
  if (queue !== null) validateQueueName(queue);
  const scan = optionalInt(options.scan, 'scan', 1, 100_000, 1_000);
  const limit = optionalInt(options.limit, 'limit', 1, 500, 50);
  const queues = await searchableQueues(db, schema, queue);
  if (queue !== null && queues.length === 0) throw new QueueNotFoundError(schema, queue);
  const items: SearchHit[] = [];
  let searched = 0;
  while (searched < queues.length && items.length < limit) {
    const chunk = queues.slice(searched, searched + QUEUES_PER_STATEMENT);
    const rows = await searchQueues(db, schema, chunk, q, scan, limit - items.length);
    searched += chunk.length;
    for (const r of rows) {
      items.push({
        queue: r.queue,
        source: r.source,
        id: r.id,
        deadLetterId: r.dead_letter_id,
        payload: r.payload,
        lastError: r.last_error,
        at: r.at,
      });
    }
  }
  return {
    items,
    mode: q.id !== undefined ? 'index' : 'scan',
    scanned: q.id !== undefined ? null : scan,
    queuesSearched: searched,
    queuesTotal: queues.length,
    truncated: searched < queues.length,
  };
}
