import { ParentNotFoundError, QueueNotFoundError } from '../errors.js';
import type { QueueTables } from './sql.js';

/** Translates PostgreSQL errors we can explain into typed errors; anything else passes through. */
export function translateDbError(
  err: unknown,
  t: QueueTables,
  context?: { parentId?: string | null },
): unknown {
  const e = err as { code?: string; constraint?: string; message?: string } | null;
  if (!e || typeof e !== 'object') return err;
  if (e.code === '42P01' || e.code === '3F000')
    return new QueueNotFoundError(t.schema, t.queue, { cause: err });
  if (e.code === '23503' && context?.parentId !== undefined) {
    return new ParentNotFoundError(context.parentId ?? 'unknown');
  }
  return err;
}

/** Runs `fn`, rethrowing database errors through translateDbError. */
export async function withTranslation<T>(
  t: QueueTables,
  fn: () => Promise<T>,
  context?: { parentId?: string | null },
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateDbError(err, t, context);
  }
}
