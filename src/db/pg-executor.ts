import { createHash } from 'node:crypto';
import pg from 'pg';
import { ValidationError } from '../errors.js';
import type { Executor, QueryResult } from './executor.js';
import { queryTypes } from './types.js';

type Queryable = pg.Pool | pg.PoolClient | pg.Client;

/** PostgreSQL keeps the first 63 bytes of a name: longer statement names could collide once cut. */
const MAX_NAME_BYTES = 63;
const shortNames = new Map<string, string>();

/**
 * The name a statement is prepared under: as given when it fits, otherwise a digest of it (stable, so the
 * statement is still prepared once per connection). Names embed the schema and queue, so long ones are
 * ordinary, and two that differ only after byte 63 must not share a prepared statement.
 */
export function statementName(name: string): string {
  if (name.length <= MAX_NAME_BYTES && Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  let short = shortNames.get(name);
  if (short === undefined) {
    short = `arb:${createHash('sha256').update(name).digest('base64url').slice(0, 40)}`;
    if (shortNames.size >= 10_000) shortNames.clear();
    shortNames.set(name, short);
  }
  return short;
}

async function run<R>(
  target: Queryable,
  text: string,
  values: readonly unknown[] | undefined,
  name: string | undefined,
): Promise<QueryResult<R>> {
  const config: pg.QueryConfig = name
    ? { name: statementName(name), text, values: values as unknown[] | undefined, types: queryTypes }
    : { text, values: values as unknown[] | undefined, types: queryTypes };
  const res = await target.query(config);
  return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
}

/** Options of the pg executors. */
export interface PgExecutorOptions {
  /** false: send every statement unnamed, never prepared per connection (see Executor). Default true. */
  preparedStatements?: boolean;
}

/** Executor over a pg Pool: every query takes a pooled connection; transactions pin one. */
export class PoolExecutor implements Executor {
  readonly pinned = false;
  readonly preparedStatements: boolean;
  constructor(
    readonly pool: pg.Pool,
    options: PgExecutorOptions = {},
  ) {
    this.preparedStatements = options.preparedStatements !== false;
  }

  query<R>(text: string, values?: readonly unknown[], name?: string): Promise<QueryResult<R>> {
    return run<R>(this.pool, text, values, this.preparedStatements ? name : undefined);
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    // A connection that dies while checked out (server restart, terminated backend) fails the pending
    // query, and that rejection is what the caller sees; the 'error' event only marks it broken.
    let broken: unknown;
    const onError = (err: Error) => {
      broken ??= err;
    };
    const client = await checkout(this.pool, onError);
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(new ClientExecutor(client, true, this));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          broken = rollbackErr;
        });
        throw err;
      }
    } catch (err) {
      broken ??= isBroken(err) ? err : undefined;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken instanceof Error ? broken : broken ? new Error('connection broken') : undefined);
    }
  }
}

/**
 * Checks a connection out of `pool` with `onError` listening before anything else can run.
 *
 * pg emits 'error' on a checked-out client whose connection dies, and without a listener Node ends the
 * process. A client handed to an awaiting `pool.connect()` has none until the awaiting code resumes, a
 * microtask later, while the rest of the network chunk that freed it is still being parsed: when the
 * server terminated that backend right after its last answer (pg_terminate_backend, a failover), the
 * FATAL message follows the answer in the same chunk and arrives with nobody listening. pg-pool's
 * callback form hands the client over synchronously, so the listener is in place first.
 */
export function checkout(pool: pg.Pool, onError: (err: Error) => void): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('the pool handed out no connection'));
      client.on('error', onError);
      resolve(client);
    });
  });
}

/**
 * Whether a connection that saw this error must not be reused: it is broken, or (25006) it is attached to
 * a server or session that refuses writes — after a failover the old primary is read-only and sessions
 * keep `default_transaction_read_only`, so only a new connection can reach a writable server. (pg's
 * `pool.query` already discards a connection after any error; this covers transactions.)
 */
function isBroken(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code !== 'string' || code.startsWith('08') || code.startsWith('57') || code === '25006';
}

/**
 * Executor over one connection, typically the caller's own transaction: nested atomic sections become
 * savepoints, so Arbiter's writes commit or roll back with the caller's.
 */
export class ClientExecutor implements Executor {
  readonly pinned = true;
  readonly preparedStatements: boolean;
  private savepoint = 0;
  constructor(
    readonly client: pg.PoolClient | pg.Client,
    private inTransaction = false,
    options: PgExecutorOptions = {},
  ) {
    this.preparedStatements = options.preparedStatements !== false;
  }

  query<R>(text: string, values?: readonly unknown[], name?: string): Promise<QueryResult<R>> {
    return run<R>(this.client, text, values, this.preparedStatements ? name : undefined);
  }

  async transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    if (!this.inTransaction) {
      // Find out whether the caller already opened a transaction on this connection.
      const sp = `arbiter_probe`;
      try {
        await this.client.query(`SAVEPOINT ${sp}`);
        await this.client.query(`RELEASE SAVEPOINT ${sp}`);
        this.inTransaction = true;
      } catch (err) {
        if ((err as { code?: string }).code !== '25P01') throw err;
        await this.client.query('BEGIN');
        try {
          const inner = new ClientExecutor(this.client, true, this);
          const result = await fn(inner);
          await this.client.query('COMMIT');
          return result;
        } catch (e) {
          await this.client.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }
    }
    const name = `arbiter_sp_${++this.savepoint}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw err;
    }
  }
}

/** Where queries may be sent: an Executor, a pg Pool, or a pg client (e.g. inside the caller's transaction). */
export type ExecutorSource = Executor | pg.Pool | pg.PoolClient | pg.Client;

/**
 * Accepts what users have at hand: our Executor, a pg Pool, or a pg client (e.g. inside their
 * transaction). `options` apply to the executor made for a pg Pool or client.
 */
export function toExecutor(source: ExecutorSource, options: PgExecutorOptions = {}): Executor {
  if (source instanceof pg.Pool) return new PoolExecutor(source, options);
  if (isExecutor(source)) return source;
  if (source && typeof (source as pg.Client).query === 'function')
    return new ClientExecutor(source as pg.Client, false, options);
  throw new ValidationError('executor', source, 'must be an Executor, a pg.Pool or a pg client');
}

function isExecutor(value: unknown): value is Executor {
  return (
    !!value &&
    typeof (value as Executor).transaction === 'function' &&
    typeof (value as Executor).query === 'function' &&
    !(value instanceof pg.Client)
  );
}

export function createPool(connectionString: string, max = 10, connectTimeoutMs = 10_000): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: connectTimeoutMs });
  // An idle client's error (e.g. the server restarted) must not crash the process; the pool drops it.
  pool.on('error', () => undefined);
  return pool;
}
