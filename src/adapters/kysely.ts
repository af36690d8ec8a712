import { CompiledQuery } from 'kysely';
import type { Executor } from '../db/executor.js';
import { StatementExecutor, notATransaction } from './statement-executor.js';

/** The part of a Kysely transaction (`db.transaction().execute(async (trx) => …)`) this adapter uses. */
export interface KyselyTransaction {
  readonly isTransaction: boolean;
  withoutPlugins(): {
    executeQuery(query: CompiledQuery<unknown>): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>;
  };
}

/**
 * Enqueue inside a Kysely transaction:
 * `await db.transaction().execute((trx) => q.enqueue(p, { tx: fromKysely(trx) }))`.
 *
 * Arbiter's statements run as raw compiled queries on the transaction's connection, without the
 * instance's plugins (a CamelCasePlugin would rename Arbiter's columns). With Kysely's PostgresDialect
 * the rows are parsed by `pg`, as Arbiter's own are.
 */
export function fromKysely(trx: KyselyTransaction): Executor {
  if (!trx || typeof trx.withoutPlugins !== 'function') {
    throw notATransaction('Kysely', trx, 'pass the `trx` given to db.transaction().execute()');
  }
  if (trx.isTransaction !== true) {
    throw notATransaction('Kysely', trx, 'this is the Kysely instance; pass the `trx` of db.transaction()');
  }
  const db = trx.withoutPlugins();
  return new StatementExecutor(async (text, values) => {
    const result = await db.executeQuery(CompiledQuery.raw(text, values));
    const rows = result.rows as Record<string, unknown>[];
    const affected = result.numAffectedRows;
    return { rows, rowCount: affected === undefined ? rows.length : Number(affected) };
  });
}
