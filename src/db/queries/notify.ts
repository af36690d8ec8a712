import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

/** The schema-qualified LISTEN channel every queue of `schema` notifies (payload: the queue name). */
export function notifyChannel(schema: string): string {
  return `arbiter:${schema}`.slice(0, 63);
}

/** Queues (among `queues`) whose notify trigger is missing. */
export async function notifyMissingTriggers(
  db: Executor,
  schema: string,
  queues: readonly string[],
): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT q.name FROM ${quoteIdent(schema)}._queues q
     WHERE q.name = ANY($2::text[]) AND NOT EXISTS (
       SELECT 1 FROM pg_trigger tg
       WHERE tg.tgrelid = to_regclass(format('%I.%I', $1::text, q.name)) AND tg.tgname = q.name || '_notify_ins')
     ORDER BY q.name`,
    [schema, [...queues]],
  );
  return rows.map((r) => r.name);
}

/** Recreates a queue's missing notify triggers. */
export async function notifyRepairTriggers(db: Executor, schema: string, queue: string): Promise<boolean> {
  const { rows } = await db.query<{ created: boolean }>(
    `SELECT ${quoteIdent(schema)}._create_notify_triggers($1) AS created`,
    [queue],
  );
  return rows[0]?.created ?? false;
}

/** One explicit wake-up for a queue (used after releases that the triggers do not cover). */
export async function notifySend(db: Executor, schema: string, queue: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), queue]);
}
