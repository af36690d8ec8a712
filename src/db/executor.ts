/**
 * The narrow interface every query goes through. Shaped like `pg`, so a pg Pool, a pg client inside the
 * caller's own transaction, or a small adapter for another driver/ORM can all stand behind it.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Executor {
  /** Runs one statement. `name` asks drivers that support it to prepare the statement once per connection. */
  query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    name?: string,
  ): Promise<QueryResult<R>>;
  /** Runs `fn` atomically: a new transaction, or a savepoint when already inside one. */
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
  /** True when this executor is bound to one connection (the caller's transaction). */
  readonly pinned?: boolean;
  /**
   * false: `name` is ignored, every statement is sent unnamed (PgBouncer in transaction mode before
   * 1.21, or without `max_prepared_statements`, cannot keep named statements). Default true.
   */
  readonly preparedStatements?: boolean;
}

/** Connection-level failures: the statement may or may not have taken effect. */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN'].includes(code)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|Client was closed/i.test(
    msg,
  );
}

/**
 * Errors that say the database cannot be used right now, whichever loop saw them: the connection failed
 * or was cut, the server is starting or shutting down, refuses connections, or is read-only (a demoted
 * primary after a failover).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === '25006' || code === '53300' || code.startsWith('57P')) return true;
  return (
    code === '55000' &&
    typeof e?.message === 'string' &&
    /does not allow connections|not currently accepting connections/.test(e.message)
  );
}
