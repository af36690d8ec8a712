import pg from 'pg';
import type { Executor } from './executor.js';
import { PoolExecutor } from './pg-executor.js';

/**
 * A connection held by one long-lived service (the LISTEN connection, the maintenance leader's lock),
 * taken from the Arbiter pool when there is one, or opened from a connection string. `close(broken)`
 * destroys it instead of returning it to the pool when it may be unhealthy.
 */
export interface DedicatedConnection {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
  onNotification(fn: (channel: string, payload: string) => void): void;
  onError(fn: (err: Error) => void): void;
  /** The server process id (for pg_terminate_backend in tests and for logs). */
  readonly pid: number | null;
  close(broken?: boolean): Promise<void>;
}

export function canOpenDedicated(db: Executor, connectionString?: string): boolean {
  return connectionString !== undefined || db instanceof PoolExecutor;
}

export async function openDedicated(db: Executor, connectionString?: string): Promise<DedicatedConnection> {
  let client: pg.Client | pg.PoolClient;
  let release: (broken: boolean) => Promise<void>;
  if (connectionString !== undefined) {
    const c = new pg.Client({ connectionString });
    c.on('error', () => undefined);
    await c.connect();
    client = c;
    release = async () => {
      await c.end().catch(() => undefined);
    };
  } else if (db instanceof PoolExecutor) {
    const c = await db.pool.connect();
    c.on('error', () => undefined);
    client = c;
    let released = false;
    release = async (broken) => {
      if (released) return;
      released = true;
      c.removeAllListeners('notification');
      // A LISTENing connection must not go back to the pool still subscribed: destroy it.
      c.release(broken ? new Error('dedicated connection closed') : true);
    };
  } else {
    throw new Error('a dedicated connection needs a pg Pool or a connection string');
  }
  const pid = (client as unknown as { processID?: number }).processID ?? null;
  return {
    pid,
    async query<R>(text: string, values?: readonly unknown[]) {
      const res = await client.query(text, values as unknown[] | undefined);
      return res.rows as R[];
    },
    onNotification(fn) {
      client.on('notification', (msg: pg.Notification) => fn(msg.channel, msg.payload ?? ''));
    },
    onError(fn) {
      client.on('error', fn);
      client.on('end', () => fn(new Error('connection ended')));
    },
    close: (broken = false) => release(broken),
  };
}
