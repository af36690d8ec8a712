import { effectiveRetention, type Retention } from '../../core/retention.js';
import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';
import { ValidationError } from '../../errors.js';
import { notifyChannel } from './notify.js';

/** One queue of the registry: its name, whether it is paused, and when it was created. */
export interface QueueInfo {
  name: string;
  createdAt: Date;
  paused: boolean;
  /** What the queue keeps of finished work (its settings, defaults filled in); see setQueueRetention. */
  retention: Retention;
}

interface QueueRow {
  name: string;
  created_at: Date;
  paused: boolean;
  retention: unknown;
}

const QUEUE_COLUMNS = `name, created_at, paused, settings -> 'retention' AS retention`;

function toQueueInfo(r: QueueRow): QueueInfo {
  return {
    name: r.name,
    createdAt: r.created_at,
    paused: r.paused,
    retention: effectiveRetention(r.retention),
  };
}

/**
 * Creates a queue's tables (idempotent). A queue's tables are named after it (`<name>_dlq`, `<name>_groups`,
 * `<name>_history`, `<name>_results`, …), so a name that extends another queue's name by one of those
 * suffixes, or that another queue's name extends, can collide: the creation then fails as a whole
 * (nothing is left behind) and says which queue is in the way.
 */
export async function queueCreate(db: Executor, schema: string, name: string): Promise<boolean> {
  try {
    const { rows } = await db.query<{ created: boolean }>(
      `SELECT ${quoteIdent(schema)}._create_queue($1) AS created`,
      [name],
    );
    return rows[0]?.created ?? false;
  } catch (e) {
    if (!isNameClash(e)) throw e;
    const { rows } = await db.query<{ name: string }>(
      `SELECT name FROM ${quoteIdent(schema)}._queues
       WHERE $1 LIKE replace(name, '_', '\\_') || '\\_%' OR name LIKE replace($1, '_', '\\_') || '\\_%'
       ORDER BY name`,
      [name],
    );
    const others = rows.map((r) => `"${r.name}"`).join(', ') || 'another queue';
    throw new ValidationError(
      'name',
      name,
      `its tables would have the same names as tables of queue ${others} (a queue owns <name>_dlq, ` +
        '<name>_groups, <name>_history, <name>_results and more); choose another name',
    );
  }
}

/** duplicate_table, duplicate_object, or the catalog's unique index on type names (a table's row type). */
function isNameClash(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '42P07' || code === '42710' || code === '23505';
}

export async function queueDrop(db: Executor, schema: string, name: string): Promise<boolean> {
  const { rows } = await db.query<{ dropped: boolean }>(
    `SELECT ${quoteIdent(schema)}._drop_queue($1) AS dropped`,
    [name],
  );
  return rows[0]?.dropped ?? false;
}

/** Every queue in name order; with `page`, at most `limit` of them after the name `after` (keyset). */
export async function queueList(
  db: Executor,
  schema: string,
  page?: { limit: number; after: string | null },
): Promise<QueueInfo[]> {
  const { rows } = page
    ? await db.query<QueueRow>(
        `SELECT ${QUEUE_COLUMNS} FROM ${quoteIdent(schema)}._queues
         WHERE $2::text IS NULL OR name > $2 ORDER BY name LIMIT $1`,
        [page.limit, page.after],
      )
    : await db.query<QueueRow>(`SELECT ${QUEUE_COLUMNS} FROM ${quoteIdent(schema)}._queues ORDER BY name`);
  return rows.map(toQueueInfo);
}

/** One queue's registry row, or null when it does not exist (a primary-key lookup). */
export async function queueGet(db: Executor, schema: string, name: string): Promise<QueueInfo | null> {
  const { rows } = await db.query<QueueRow>(
    `SELECT ${QUEUE_COLUMNS} FROM ${quoteIdent(schema)}._queues WHERE name = $1`,
    [name],
  );
  const r = rows[0];
  return r ? toQueueInfo(r) : null;
}

/**
 * Pauses or resumes claiming from a queue. Returns false when the queue does not exist. Resuming also
 * sends the queue's wake-up in the same statement, so idle workers claim at once instead of at their
 * next poll.
 */
export async function queueSetPaused(
  db: Executor,
  schema: string,
  name: string,
  paused: boolean,
): Promise<boolean> {
  const update = `UPDATE ${quoteIdent(schema)}._queues SET paused = $2 WHERE name = $1`;
  const res = paused
    ? await db.query(update, [name, true])
    : await db.query(`WITH r AS (${update} RETURNING name) SELECT pg_notify($3, r.name) FROM r`, [
        name,
        false,
        notifyChannel(schema),
      ]);
  return res.rowCount > 0;
}

/** Which of `names` are registered queues (primary-key lookups). */
export async function queueExisting(
  db: Executor,
  schema: string,
  names: readonly string[],
): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT name FROM ${quoteIdent(schema)}._queues WHERE name = ANY($1::text[])`,
    [[...names]],
  );
  return new Set(rows.map((r) => r.name));
}
