import type { Executor } from '../db/executor.js';
import { parseTimestamptz } from '../db/types.js';
import { StatementExecutor, notATransaction } from './statement-executor.js';

/**
 * The part of a postgres.js (`postgres` package) transaction this adapter uses: the `sql` handed to the
 * callback of `sql.begin(...)` (or of `savepoint(...)`).
 */
export interface PostgresJsTransaction {
  unsafe(text: string, params?: unknown[], options?: { prepare?: boolean }): PromiseLike<PostgresJsResult>;
  savepoint: unknown;
  options?: { transform?: Record<string, unknown> };
}

/** A postgres.js result: an array of rows with the number of rows affected and the columns' types. */
export type PostgresJsResult = Record<string, unknown>[] & {
  count?: number | null;
  columns?: readonly { name: string; type: number }[];
};

const TIMESTAMP_TYPES = new Set([1114, 1184]);

/**
 * Enqueue inside a postgres.js transaction: `await sql.begin((tx) => q.enqueue(p, { tx: fromPostgresJs(tx) }))`.
 *
 * Arbiter's statements run through `tx.unsafe(text, params)`. postgres.js serializes a parameter by the
 * type the server infers for it, and would JSON-encode again the JSON texts Arbiter sends to `$n::jsonb`;
 * those parameters are therefore sent as text (`$n::text::jsonb`), which the server parses as `pg` would
 * have it. Results come back as Arbiter reads them from `pg`: `bigint` as strings, `jsonb` parsed,
 * `timestamptz` as Date. Dates are sent, and timestamps read, as text whatever the instance's date
 * types (Drizzle's postgres-js driver turns them into strings on the instance it is given). An instance with column transforms (`postgres.camel`, ...) renames Arbiter's
 * columns: its first statement's row gives it away and is refused with a ValidationError (thrown inside
 * the caller's transaction, which then rolls back); use an instance without transforms for the
 * transactions that enqueue.
 */
export function fromPostgresJs(tx: PostgresJsTransaction): Executor {
  if (!tx || typeof tx.unsafe !== 'function' || typeof tx.savepoint !== 'function') {
    throw notATransaction('postgres.js', tx, 'pass the `sql` given to the callback of sql.begin()');
  }
  const transform = tx.options?.transform;
  if (transform && hasTransform(transform)) {
    throw notATransaction(
      'postgres.js',
      tx,
      'the instance has column, value or row transforms, which would rename or change the rows Arbiter reads',
    );
  }
  return new StatementExecutor(async (text, values) => {
    const result = await tx.unsafe(textJsonParams(text), values.map(dateAsText), { prepare: false });
    const first = result[0];
    if (first !== undefined) {
      for (const column in first) {
        if (!/^[a-z0-9_?]+$/.test(column)) {
          throw notATransaction(
            'postgres.js',
            tx,
            `its instance renames columns (${JSON.stringify(column)}): use one without column transforms`,
          );
        }
      }
    }
    const rows = result as Record<string, unknown>[];
    for (const column of result.columns ?? []) {
      if (!TIMESTAMP_TYPES.has(column.type)) continue;
      for (const row of rows) {
        const v = row[column.name];
        if (typeof v === 'string') row[column.name] = parseTimestamptz(v);
      }
    }
    return { rows, rowCount: result.count ?? result.length };
  });
}

function dateAsText(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value) && value.some((v) => v instanceof Date)) return value.map(dateAsText);
  return value;
}

function hasTransform(transform: Record<string, unknown>): boolean {
  return ['column', 'value', 'row'].some((k) => {
    const t = transform[k] as { from?: unknown } | undefined;
    return typeof t === 'function' || (t !== null && typeof t === 'object' && typeof t.from === 'function');
  });
}

/** `$3::jsonb` → `$3::text::jsonb` (and json): the parameter is a JSON text, sent as text. */
export function textJsonParams(text: string): string {
  return text.replace(/(\$\d+)::(jsonb?)\b(?!\[)/g, '$1::text::$2');
}
