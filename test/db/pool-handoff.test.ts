import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PoolExecutor } from '../../src/db/pg-executor.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startProxy, type Proxy } from '../support/proxy.js';

// A pooled connection is handed to the next waiter from inside the handler of the answer that freed it,
// while the rest of that network chunk is still being parsed. When the server terminated the backend
// right after that answer, its FATAL message is in the same chunk: the new holder must already be
// listening for the 'error' event, or Node ends the process ("Unhandled 'error' event").
const t = useTestDb();
let proxy: Proxy | undefined;
afterAll(async () => {
  await proxy?.close();
});

describe('pool hand-over', () => {
  it('a transaction waiting for the only connection survives that connection dying as it is handed over', async () => {
    proxy = await startProxy(databaseUrl());
    const pool = new pg.Pool({ connectionString: proxy.url, max: 1 });
    pool.on('error', () => undefined);
    const db = new PoolExecutor(pool);
    try {
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const held = proxy.holdAnswer('handoff-marker');
      const first = pool.query(`SELECT 'handoff-marker' AS m`);
      // Waits for the pool's only connection, which `first` holds. It fails as soon as it gets that
      // connection, dead, so its outcome is taken at once (not left unhandled until asserted).
      const second = db
        .transaction((tx) => tx.query('SELECT 1'))
        .then(
          () => null,
          (err: unknown) => err,
        );
      await held;
      // The backend is idle now (its answer is held by the proxy): terminating it sends a FATAL, which
      // the proxy delivers in one chunk with that answer.
      await t.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      expect((await first).rows).toEqual([{ m: 'handoff-marker' }]);
      expect(await second).toBeInstanceOf(Error);
      // The dead connection was discarded: the next transaction gets a new one.
      const again = await db.transaction((tx) => tx.query<{ n: number }>('SELECT 2 AS n'));
      expect(again.rows).toEqual([{ n: 2 }]);
    } finally {
      await pool.end();
    }
  });
});
