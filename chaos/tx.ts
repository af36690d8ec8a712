// Writes of the chaos drivers that must commit exactly once through faults: a transaction on a pooled
// client (a broken one is discarded), and a retry loop that, after a failure, first finds out whether
// the failed commit happened anyway (it may have: the connection died while COMMIT was in flight).
import type pg from 'pg';
import { sleep } from './common.js';

/** Runs `fn` inside BEGIN … COMMIT on a client of `pool`; rolls back and rethrows on any error. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client whose connection dies emits 'error'; the failure reaches us through the query.
  const swallow = () => undefined;
  client.on('error', swallow);
  let broken = false;
  try {
    await client.query('BEGIN');
    const value = await fn(client);
    await client.query('COMMIT');
    return value;
  } catch (err) {
    broken = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', swallow);
    client.release(broken ? true : undefined);
  }
}

/**
 * Runs `write` until it commits, never twice: after a failure it asks `committed` (retrying while the
 * database is away) whether that commit happened, and stops if so. Returns null when `write` returned,
 * else what `committed` found. `onRetry` is told of each failure.
 */
export async function commitOnce<T>(
  write: () => Promise<void>,
  committed: () => Promise<T | null>,
  onRetry: (err: unknown) => void,
): Promise<T | null> {
  for (;;) {
    try {
      await write();
      return null;
    } catch (err) {
      onRetry(err);
      let found: T | null | undefined;
      while (found === undefined) {
        await sleep(300);
        found = await committed().catch(() => undefined);
      }
      if (found !== null) return found;
    }
  }
}
