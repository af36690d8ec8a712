import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { PoolExecutor } from '../../src/db/pg-executor.js';
import { databaseUrl, useTestDb } from '../support/db.js';

const t = useTestDb();

describe('PoolExecutor', () => {
  it('a transaction whose connection is terminated rejects instead of crashing the process', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    pool.on('error', () => undefined);
    const db = new PoolExecutor(pool);
    try {
      const attempt = db.transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await t.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((r) => setTimeout(r, 200));
        await tx.query('SELECT 1');
      });
      await expect(attempt).rejects.toThrow();
      // The broken connection was discarded: the pool hands out a working one.
      const { rows } = await db.query<{ one: number }>('SELECT 1 AS one');
      expect(rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('a connection that refused a write as read-only (a demoted primary) is not reused', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    pool.on('error', () => undefined);
    const db = new PoolExecutor(pool);
    try {
      await db.query(`CREATE TABLE IF NOT EXISTS "${t.schema}".ro_probe (v int)`);
      // The session turns read-only, as sessions on a primary demoted by a failover do.
      await db.query('SET default_transaction_read_only = on');
      const { rows: before } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await expect(
        db.transaction((tx) => tx.query(`INSERT INTO "${t.schema}".ro_probe VALUES (1)`)),
      ).rejects.toMatchObject({ code: '25006' });
      // A new connection: writable again (the server is), and a different backend.
      const { rows: after } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      expect(after[0]!.pid).not.toBe(before[0]!.pid);
      await db.transaction((tx) => tx.query(`INSERT INTO "${t.schema}".ro_probe VALUES (2)`));
    } finally {
      await pool.end();
    }
  });

  it('commits on success and rolls back on error', async () => {
    const db = new PoolExecutor(t.pool);
    await t.pool.query(`CREATE TABLE "${t.schema}".tx_probe (v int)`);
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO "${t.schema}".tx_probe VALUES (1)`);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO "${t.schema}".tx_probe VALUES (2)`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await t.pool.query(`SELECT array_agg(v) AS vs FROM "${t.schema}".tx_probe`);
    expect(rows[0].vs).toEqual([1]);
  });
});

describe('prepared statement names', () => {
  it('statements whose names differ only past 63 bytes stay distinct (long schema and queue names)', async () => {
    const schema = `${t.schema}_a_rather_long_schema_name_for_statement_names`.slice(0, 63);
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const arbiter = new Arbiter({ pool, schema });
    try {
      await arbiter.migrate();
      const q = await arbiter.createQueue<{ n: number }>('a_queue_name_long_enough_to_push_past_the_limit');
      // Batches of different shapes (which columns vary) are different statements on one connection.
      await q.enqueueMany([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
      await q.enqueueMany([
        { payload: { n: 3 }, priority: 1 },
        { payload: { n: 4 }, priority: 2 },
      ]);
      await q.enqueueMany([
        { payload: { n: 5 }, groupKey: 'a' },
        { payload: { n: 6 }, groupKey: 'b' },
      ]);
      await q.enqueueMany([{ payload: { n: 7 } }, { payload: { n: 8 } }]);
      const jobs = await q.claim({ limit: 10 });
      expect(jobs.map((j) => j.payload.n).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await arbiter.close();
      await pool.end().catch(() => undefined);
    }
  });
});
