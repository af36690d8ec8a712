import { validateQueueName, validateSchemaName } from '../core/identifiers.js';

/** Quotes a validated identifier. Identifiers become SQL text here and nowhere else. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The fully quoted names of one queue's tables, computed once per queue handle. */
export interface QueueTables {
  readonly schema: string;
  readonly queue: string;
  readonly jobs: string;
  readonly groups: string;
  readonly results: string;
  readonly dlq: string;
  readonly registry: string;
  /** Prefix for prepared-statement names, unique per schema and queue. */
  readonly statementPrefix: string;
}

export function queueTables(schema: string, queue: string): QueueTables {
  validateSchemaName(schema);
  validateQueueName(queue);
  const s = quoteIdent(schema);
  return Object.freeze({
    schema,
    queue,
    jobs: `${s}.${quoteIdent(queue)}`,
    groups: `${s}.${quoteIdent(`${queue}_groups`)}`,
    results: `${s}.${quoteIdent(`${queue}_results`)}`,
    dlq: `${s}.${quoteIdent(`${queue}_dlq`)}`,
    registry: `${s}._queues`,
    statementPrefix: `arb:${schema}.${queue}:`,
  });
}

/**
 * Prefix of the advisory-lock key an insert takes for its group (`<q>_group_lock`, migration 0001): the
 * group key follows it. Inserts of one group are serialized on it, so ids follow commit order.
 */
export function groupLockKey(t: QueueTables): string {
  return `arbiter:group:${t.schema}.${t.queue}:`;
}

/** Prefix of the advisory-lock key a keyed batch insert takes for each dedup or idempotency key. */
export function insertKeyLockKey(t: QueueTables): string {
  return `arbiter:key:${t.schema}.${t.queue}:`;
}

/** Key for pg_advisory_xact_lock(hashtextextended(key, 0)) on a job tree node. */
export function treeLockKey(t: QueueTables): string {
  return `arbiter:tree:${t.schema}.${t.queue}:`;
}
