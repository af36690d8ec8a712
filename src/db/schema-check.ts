import { SchemaNotMigratedError, SchemaTooNewError } from '../errors.js';
import type { Executor } from './executor.js';
import { schemaStatus, schemaStatusError } from './migrate.js';

/** Errors a schema that is missing or at another version produces: undefined table, schema or function. */
const MISSING_OBJECT_CODES = new Set(['42P01', '3F000', '42883']);

export function isMissingObjectError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && MISSING_OBJECT_CODES.has(code);
}

/**
 * Whether an Arbiter's schema is at the migration this code ships, checked once per Arbiter: the first
 * call of any operation waits for it, later calls read one boolean. Only success is remembered, so a
 * process that started before the schema was migrated recovers once it is. A statement that later fails
 * on a missing table, schema or function checks again (see `explain`): the schema may have been dropped.
 */
export class SchemaCheck {
  /** True once the schema was found current (or could not be read: see verify). */
  passed = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly db: Executor,
    private readonly schema: string,
  ) {}

  /** Resolves when the schema is current; rejects with SchemaNotMigratedError or SchemaTooNewError. */
  verify(): Promise<void> {
    if (this.passed) return Promise.resolve();
    this.pending ??= this.run().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async run(): Promise<void> {
    try {
      const error = schemaStatusError(this.schema, await schemaStatus(this.db, this.schema));
      if (error) throw error;
    } catch (err) {
      // A role that may not read the migration record cannot be checked: let its statements speak.
      if ((err as { code?: unknown } | null)?.code !== '42501') throw err;
    }
    this.passed = true;
  }

  /**
   * After a statement failed with `err`: the schema error that explains it, or null when the schema is
   * fine (or cannot be checked right now) and `err` means something else, such as a queue never created.
   */
  async explain(err: unknown): Promise<Error | null> {
    if (!isMissingObjectError(err)) return null;
    this.passed = false;
    try {
      await this.verify();
      return null;
    } catch (schemaError) {
      // The check itself failed (e.g. the connection): keep the original error.
      return schemaError instanceof SchemaNotMigratedError || schemaError instanceof SchemaTooNewError
        ? schemaError
        : null;
    }
  }
}
