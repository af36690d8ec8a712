import pg from 'pg';
import type { Executor } from './executor.js';
import { checkout, PoolExecutor } from './pg-executor.js';

/**
 * A connection held by one long-lived service (the LISTEN connection, the maintenance leader's lock),
 * taken from the Arbiter pool when there is one, or opened from a connection string. `close()` destroys it
 * (it may hold a LISTEN or a session lock, or be unhealthy); `close('reuse')` returns a pooled connection
 * that holds no session state to the pool.
 */
export interface DedicatedConnection {
  /**
   * Runs one statement. With `timeoutMs`, rejects when no answer came in time (a half-open connection
   * never answers, and statement_timeout cannot help when the server never sees the query).
   */
  query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    timeoutMs?: number,
  ): Promise<R[]>;
  onNotification(fn: (channel: string, payload: string) => void): void;
  onError(fn: (err: Error) => void): void;
  /** The server process id (for pg_terminate_backend in tests and for logs). */
  readonly pid: number | null;
  close(how?: 'destroy' | 'reuse'): Promise<void>;
}

export function canOpenDedicated(db: Executor, connectionString?: string): boolean {
  return connectionString !== undefined || db instanceof PoolExecutor;
}

export async function openDedicated(db: Executor, connectionString?: string): Promise<DedicatedConnection> {
  const swallow = () => undefined;
  // Listeners we attach, removed before a pooled connection is reused.
  type AnyListener = (arg: never) => void;
  const added: [string, AnyListener][] = [];
  const on = (event: string, fn: AnyListener) => {
    added.push([event, fn]);
    (client as unknown as NodeJS.EventEmitter).on(event, fn as () => void);
  };
  let client: pg.Client | pg.PoolClient;
  let release: (reuse: boolean) => Promise<void>;
  if (connectionString !== undefined) {
    const c = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
    c.on('error', swallow);
    await c.connect();
    client = c;
    release = async () => {
      // end() waits for the server to close the socket, which a half-open connection never does.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        c.end().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000))),
      ]);
      clearTimeout(timer);
      (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    };
  } else if (db instanceof PoolExecutor) {
    const c = await checkout(db.pool, swallow);
    client = c;
    let released = false;
    release = async (reuse) => {
      if (released) return;
      released = true;
      for (const [event, fn] of added) (c as unknown as NodeJS.EventEmitter).off(event, fn as () => void);
      c.off('error', swallow);
      // A LISTENing or lock-holding connection must not go back to the pool: destroy it unless told otherwise.
      c.release(reuse ? undefined : true);
    };
  } else {
    throw new Error('a dedicated connection needs a pg Pool or a connection string');
  }
  const pid = (client as unknown as { processID?: number }).processID ?? null;
  return {
    pid,
    async query<R>(text: string, values?: readonly unknown[], timeoutMs?: number) {
      const run = client.query(text, values as unknown[] | undefined);
      if (timeoutMs === undefined) return (await run).rows as R[];
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms: ${text}`)), timeoutMs);
      });
      run.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
      try {
        return (await Promise.race([run, timeout])).rows as R[];
      } finally {
        clearTimeout(timer);
      }
    },
    onNotification(fn) {
      on('notification', (msg: pg.Notification) => fn(msg.channel, msg.payload ?? ''));
    },
    onError(fn) {
      on('error', fn);
      on('end', () => fn(new Error('connection ended')));
    },
    close: (how = 'destroy') => release(how === 'reuse'),
  };
}

/**
 * A few connections kept apart from the Arbiter pool for the worker's control traffic (lease extensions,
 * completions, registry heartbeats), so that handlers or the application exhausting the shared pool
 * cannot starve them: a job whose handler is waiting for a pooled connection still has its lease
 * extended, and a finished job is still acked.
 */
export interface ReservedPool {
  readonly db: Executor;
  close(): Promise<void>;
}

/**
 * Run on each reserved connection before its first statement. The worker's statements there are few and
 * fixed, each written to reach its rows through an index whatever its parameters, so replanning them on
 * every call buys nothing. The claim especially: its custom plan took ~2 ms to make for ~8 ms of work
 * (400 jobs), and PostgreSQL never switched to the generic plan by itself, because a LIMIT given as a
 * parameter makes the generic plan look costlier.
 *
 * A generic plan is made once, with the statistics of that moment, and kept until they change: one made
 * while a queue was nearly empty would scan whole tables once it holds a million jobs (a small table is
 * cheaper to read than to probe, or to collect as a bitmap than to walk in order). Sequential and bitmap
 * scans are therefore priced out on these connections, so every plan takes the ordered index path the
 * statement was written for (see test/db/claim-plan.test.ts). JIT compilation is off too: a generic
 * plan's estimated cost can pass the JIT thresholds, and a claim compiled on every call took 1.5 s. These connections are the worker's own
 * and end with it: the settings reach nothing else. A server that refuses them only costs planning time.
 */
export async function prepareWorkerSession(client: pg.ClientBase): Promise<void> {
  await client
    .query(
      'SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; SET enable_bitmapscan = off; SET jit = off',
    )
    .catch(() => undefined);
}

/** How long closing a reserved pool may wait for connections still in use. */
const RESERVED_CLOSE_TIMEOUT_MS = 5_000;

/**
 * Opens (lazily: no connection until the first query) a pool of `size` connections to the same server
 * as the Arbiter's pool, or to `connectionString` when the Arbiter was built from another executor.
 * Its connections are held while it is open (no idle timeout): they are reserved. Returns undefined
 * when `size` is 0 or there is nothing to connect with; control traffic then shares the Arbiter's pool.
 */
export function openReservedPool(
  db: Executor,
  size: number,
  connectionString?: string,
): ReservedPool | undefined {
  if (size <= 0) return undefined;
  let config: pg.PoolConfig;
  if (db instanceof PoolExecutor) {
    // Same server, credentials, TLS and timeouts as the Arbiter's pool.
    config = { ...(db.pool.options as pg.PoolConfig) };
  } else if (connectionString !== undefined) {
    config = { connectionString, connectionTimeoutMillis: 10_000 };
  } else {
    return undefined;
  }
  const pool = new pg.Pool({
    ...config,
    max: size,
    min: 0,
    idleTimeoutMillis: 0,
    allowExitOnIdle: false,
    onConnect: prepareWorkerSession,
  });
  // An idle client's error (the server restarted, the backend was terminated) must not crash the
  // process; the pool drops the client and opens a new one on the next query.
  pool.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  const close = async () => {
    // end() waits for checked-out connections; one stuck on a half-open socket must not hold up shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pool.end().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, RESERVED_CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  };
  return {
    db: new PoolExecutor(pool, { preparedStatements: db.preparedStatements !== false }),
    close: () => (closing ??= close()),
  };
}
