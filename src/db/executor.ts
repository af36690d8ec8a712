/** What one statement returns through an Executor: its rows and how many rows it touched. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/**
 * The narrow interface every query goes through. Shaped like `pg`, so a pg Pool, a pg client inside the
 * caller's own transaction, or a small adapter for another driver/ORM can all stand behind it.
 */
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
