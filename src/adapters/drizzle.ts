import pg from 'pg';
import type { Executor } from '../db/executor.js';
import { ClientExecutor } from '../db/pg-executor.js';
import { fromPostgresJs, type PostgresJsTransaction } from './postgres-js.js';
import { notATransaction } from './statement-executor.js';

/** The part of a Drizzle transaction (`db.transaction(async (tx) => …)`) this adapter uses. */
export interface DrizzleTransaction {
  readonly _: { readonly session: unknown };
  rollback(): unknown;
}

/**
 * Enqueue inside a Drizzle transaction (drivers `drizzle-orm/node-postgres` and `drizzle-orm/postgres-js`):
 * `await db.transaction((tx) => q.enqueue(p, { tx: fromDrizzle(tx) }))`.
 *
 * Drizzle holds the transaction on one connection of the underlying driver; Arbiter runs its statements
 * on it directly (a `pg` client as when given one, a postgres.js transaction as fromPostgresJs does), so
 * Drizzle's own result mapping (timestamps as strings) does not apply to them.
 */
export function fromDrizzle(tx: DrizzleTransaction): Executor {
  const session = (tx as { _?: { session?: unknown } } | null)?._?.session as
    { client?: unknown } | undefined;
  const client = session?.client;
  if (!client || typeof tx.rollback !== 'function') {
    throw notATransaction('Drizzle', tx, 'pass the `tx` given to db.transaction()');
  }
  const root = () =>
    notATransaction('Drizzle', tx, 'this is the database object; pass the `tx` of db.transaction()');
  if (typeof (client as { unsafe?: unknown }).unsafe === 'function') {
    // postgres.js: only a transaction's `sql` can make savepoints.
    if (typeof (client as { savepoint?: unknown }).savepoint !== 'function') throw root();
    return fromPostgresJs(client as PostgresJsTransaction);
  }
  if (client instanceof pg.Pool || isPgPool(client)) throw root();
  if (client instanceof pg.Client || typeof (client as { query?: unknown }).query === 'function') {
    return new ClientExecutor(client as pg.Client, true);
  }
  throw notATransaction('Drizzle', tx, 'its driver is neither node-postgres nor postgres.js');
}

function isPgPool(client: unknown): boolean {
  const c = client as { totalCount?: unknown; connect?: unknown };
  return typeof c.connect === 'function' && typeof c.totalCount === 'number';
}
