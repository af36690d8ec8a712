import { encodePayload } from '../core/payload.js';
import { checkOptions } from '../core/validate.js';
import type { Executor } from '../db/executor.js';
import { toExecutor, type ExecutorSource } from '../db/pg-executor.js';
import type { SchemaCheck } from '../db/schema-check.js';
import { eventEmit, eventGet } from '../db/queries/steps.js';
import { ValidationError } from '../errors.js';
import type { EventInfo } from '../types.js';

/** Longest event name, in characters (the same limit as ctx.waitFor's). */
export const MAX_EVENT_NAME = 200;

export interface EmitOptions {
  /** Emit inside this transaction (a pg client, or an executor): waiters are released when it commits. */
  tx?: ExecutorSource;
}

/** What `emit` needs from its Arbiter. */
export interface EventsContext {
  db: Executor;
  schema: string;
  maxPayloadBytes: number;
  schemaCheck?: SchemaCheck;
}

export function checkEventName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_EVENT_NAME)
    throw new ValidationError(
      field,
      name,
      `must be a non-empty string of at most ${MAX_EVENT_NAME} characters`,
    );
  return name;
}

/**
 * Emits an event: stores it under its name (a later emit replaces the payload) and releases every job
 * parked on it by ctx.waitFor, each exactly once. Returns how many jobs it released. Bad input throws a
 * typed error and writes nothing.
 */
export async function emitEvent(
  ctx: EventsContext,
  name: string,
  payload: unknown,
  options: EmitOptions = {},
): Promise<{ released: number }> {
  checkEventName(name);
  if (name.startsWith('$'))
    throw new ValidationError('name', name, 'must not start with "$" (reserved for Arbiter\'s own events)');
  const o = checkOptions<EmitOptions>(options, 'options', ['tx']);
  const json = encodePayload(payload === undefined ? null : payload, ctx.maxPayloadBytes);
  const db =
    o.tx === undefined
      ? ctx.db
      : toExecutor(o.tx, { preparedStatements: ctx.db.preparedStatements !== false });
  await ctx.schemaCheck?.verify();
  return { released: await eventEmit(db, ctx.schema, name, json) };
}

/** An event as stored and how many jobs wait for it now; null when never emitted and awaited by none. */
export async function readEvent(ctx: EventsContext, name: string): Promise<EventInfo | null> {
  checkEventName(name);
  await ctx.schemaCheck?.verify();
  const row = await eventGet(ctx.db, ctx.schema, name);
  if (!row) return null;
  return {
    name: row.name,
    payload: row.emitted_at === null ? undefined : row.payload,
    emittedAt: row.emitted_at,
    emits: row.emits,
    released: row.released,
    waiting: row.waiting,
  };
}
