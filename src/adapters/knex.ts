import type pg from 'pg';
import type { Executor } from '../db/executor.js';
import { ClientExecutor } from '../db/pg-executor.js';
import { notATransaction } from './statement-executor.js';

/** The part of a Knex transaction (`knex.transaction(async (trx) => …)`) this adapter uses. */
export interface KnexTransaction {
  readonly isTransaction?: boolean;
  isCompleted(): boolean;
  client: { acquireConnection(): Promise<unknown>; config?: { client?: unknown } };
}

/**
 * Enqueue inside a Knex transaction (PostgreSQL through the `pg` driver):
 * `await knex.transaction((trx) => q.enqueue(p, { tx: fromKnex(trx) }))`.
 *
 * Knex keeps a transaction on one `pg` connection; Arbiter runs its statements on that connection, just
 * as when given a `pg` client, so nothing about them changes. Statements after the transaction has
 * completed are refused, as Knex refuses its own.
 */
export function fromKnex(trx: KnexTransaction): Executor {
  if (!trx || typeof trx.isCompleted !== 'function' || typeof trx.client?.acquireConnection !== 'function') {
    throw notATransaction('Knex', trx, 'pass the `trx` given to knex.transaction()');
  }
  if (trx.isTransaction !== true) {
    throw notATransaction('Knex', trx, 'this is the knex instance; pass the `trx` of knex.transaction()');
  }
  return new KnexExecutor(trx);
}

function isPgClient(value: unknown): value is pg.Client {
  const c = value as { query?: unknown; connectionParameters?: unknown } | null;
  return !!c && typeof c.query === 'function' && typeof c.connectionParameters === 'object';
}

/** Runs on the transaction's own `pg` connection, looked up (from Knex) on first use. */
class KnexExecutor implements Executor {
  readonly pinned = true;
  private inner: Promise<Executor> | undefined;
  constructor(private readonly trx: KnexTransaction) {}

  async query<R>(text: string, values?: readonly unknown[], name?: string) {
    return (await this.connection()).query<R>(text, values, name);
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return (await this.connection()).transaction(fn);
  }

  private connection(): Promise<Executor> {
    if (this.trx.isCompleted()) {
      return Promise.reject(
        new Error('the Knex transaction has already completed: enqueue before it commits'),
      );
    }
    return (this.inner ??= this.trx.client.acquireConnection().then((connection) => {
      if (!isPgClient(connection)) {
        throw notATransaction(
          'Knex',
          this.trx,
          `its connection is not a pg client (${String(this.trx.client.config?.client)})`,
        );
      }
      return new ClientExecutor(connection, true);
    }));
  }
}
