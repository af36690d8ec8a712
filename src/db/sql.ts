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

/**
 * The queue's name as an SQL string literal, for the schema-wide tables keyed by queue. Queue names are
 * validated (^[a-z][a-z0-9_]{0,47}$) before a QueueTables exists, so the literal can hold no quote: it is
 * a constant of the statement, like the table name itself, not a value from a caller.
 */
export function queueLiteral(t: QueueTables): string {
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(t.queue)) throw new Error(`invalid queue name ${t.queue}`);
  return `'${t.queue}'`;
}

/**
 * "Waits for its dependencies" for a job row `a` (flows, docs/workflows.md): only rows marked tracked
 * look at _tracked_jobs, so others pay one jsonb test.
 */
export function waitsForDependencies(t: QueueTables, a: string): string {
  return `(coalesce(${a}.meta ? 'arbiter', false) AND EXISTS (SELECT 1 FROM ${quoteIdent(t.schema)}._tracked_jobs wd
    WHERE wd.queue = ${queueLiteral(t)} AND wd.job_id = ${a}.id AND wd.deps_pending > 0 AND wd.state = 'unfinished'))`;
}
