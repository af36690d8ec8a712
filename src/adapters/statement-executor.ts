import type { Executor, QueryResult } from '../db/executor.js';
import { ValidationError } from '../errors.js';

/** Runs one parameterized statement (`$1`, `$2`, … placeholders) on the caller's transaction. */
export type RunStatement = (text: string, values: unknown[]) => Promise<QueryResult<Record<string, unknown>>>;

/**
 * An Executor over one open transaction of another library (an ORM's or a driver's), given as the
 * function that runs a statement on it. Nested atomic sections become savepoints, so Arbiter's writes
 * commit or roll back with the caller's transaction, as with a `pg` client.
 *
 * Rows are brought to the shape Arbiter reads from `pg`: a driver that returns 64-bit integers as
 * `bigint` (Prisma, postgres.js with a `bigint` type) has them turned into strings, as `pg` returns
 * them, so job ids keep every digit.
 */
export class StatementExecutor implements Executor {
  readonly pinned = true;
  private savepoint = 0;

  constructor(private readonly run: RunStatement) {}

  async query<R = Record<string, unknown>>(
    text: string,
    values: readonly unknown[] = [],
  ): Promise<QueryResult<R>> {
    const result = await this.run(text, [...values]);
    for (const row of result.rows) normalizeRow(row);
    return result as QueryResult<R>;
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    const name = `arbiter_sp_${++this.savepoint}`;
    await this.run(`SAVEPOINT ${name}`, []);
    try {
      const result = await fn(this);
      await this.run(`RELEASE SAVEPOINT ${name}`, []);
      return result;
    } catch (err) {
      await this.run(`ROLLBACK TO SAVEPOINT ${name}`, []).catch(() => undefined);
      throw err;
    }
  }
}

function normalizeRow(row: Record<string, unknown>): void {
  for (const key in row) {
    const v = row[key];
    if (typeof v === 'bigint') row[key] = v.toString();
    else if (Array.isArray(v) && v.some((x) => typeof x === 'bigint'))
      row[key] = v.map((x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  }
}

/** The error every adapter throws when given something other than an open transaction. */
export function notATransaction(library: string, value: unknown, hint: string): ValidationError {
  // The error names what was given rather than holding it: a client object is large (and, for some
  // libraries, a proxy that loggers and test runners cannot walk).
  return new ValidationError('tx', kindOf(value), `expected a ${library} transaction: ${hint}`);
}

function kindOf(value: unknown): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  let name: unknown;
  try {
    name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && name !== '' && name !== 'Object' && name !== 'Function'
    ? `a ${name}`
    : `a ${typeof value}`;
}
