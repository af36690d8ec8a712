import { ParentNotFoundError, QueueNotFoundError } from '../errors.js';
import type { SchemaCheck } from './schema-check.js';
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

/** What withTranslation needs of a queue handle: its tables, and the Arbiter's schema check if any. */
export interface TranslationScope {
  readonly t: QueueTables;
  readonly schemaCheck?: SchemaCheck;
}

/**
 * Runs `fn`, rethrowing database errors through translateDbError. The first call on an Arbiter waits for
 * its schema check; later calls read one boolean. A missing table is a missing queue unless the schema
 * check explains it (the schema is missing, not migrated, or at another version).
 */
export async function withTranslation<T>(
  scope: TranslationScope,
  fn: () => Promise<T>,
  context?: { parentId?: string | null },
): Promise<T> {
  const check = scope.schemaCheck;
  if (check !== undefined && !check.passed) await check.verify();
  try {
    return await fn();
  } catch (err) {
    const schemaError = check === undefined ? null : await check.explain(err);
    throw schemaError ?? translateDbError(err, scope.t, context);
  }
}
