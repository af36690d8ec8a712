// Removing Arbiter's schema with 1,000 queues: in short transactions (one DROP SCHEMA ... CASCADE would
// need a lock per object, about 30 per queue, and run out of lock memory), resumable after an
// interruption, and refused while workers are running.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, SchemaInUseError } from '../../src/index.js';
import { databaseUrl, uniqueName } from '../support/db.js';

const QUEUES = 1_000;
const schema = uniqueName('un');
let pool: pg.Pool;
let arbiter: Arbiter;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  arbiter = new Arbiter({ pool, schema });
  await arbiter.migrate();
  // 1,000 queues, 25 per transaction, on two connections.
  const batches = Array.from({ length: QUEUES / 25 }, (_, i) => i * 25);
  await Promise.all(
    [0, 1].map(async (lane) => {
      for (const start of batches.filter((_, i) => i % 2 === lane))
        await pool.query(
          `SELECT "${schema}"._create_queue('q' || g) FROM generate_series($1::int, $1::int + 24) g`,
          [start],
        );
    }),
  );
});

afterAll(async () => {
  await arbiter.uninstall({ force: true }).catch(() => undefined);
  await pool.end();
});

const schemaExists = async () =>
  (await pool.query<{ ok: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS ok', [`"${schema}"`]))
    .rows[0]!.ok;

describe('uninstall', () => {
  it('refuses while a worker is alive, unless forced', async () => {
    await pool.query(
      `INSERT INTO "${schema}"._workers (id, queues, hostname, pid) VALUES ('w-live', '{q1}', 'h', 1)`,
    );
    const err = await arbiter.uninstall().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaInUseError);
    expect((err as SchemaInUseError).workers).toEqual(['w-live']);
    expect((await arbiter.listQueues()).length).toBe(QUEUES);
    await pool.query(`DELETE FROM "${schema}"._workers`);
  });

  it('removes 1,000 queues in batches; interrupted, the rest still works, and running it again finishes', async () => {
    await arbiter.queue('q999').enqueue({ before: true });
    const stop = new Error('interrupted');
    const seen: number[] = [];
    const err = await arbiter
      .uninstall({
        queuesPerTransaction: 25,
        onProgress: (p) => {
          seen.push(p.queuesDropped);
          if (p.queuesDropped >= 300) throw stop;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBe(stop);
    // Every transaction committed a consistent state: 300 queues gone, the others whole.
    const left = await arbiter.listQueues();
    expect(left.length).toBe(QUEUES - 300);
    const { rows: tables } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname ~ '^q[0-9]+$'`,
      [schema],
    );
    expect(tables[0]!.n).toBe(QUEUES - 300);
    expect(await arbiter.queue('q999').jobs.count()).toBe(1);
    await arbiter.queue('q999').enqueue({ during: true });
    expect(await arbiter.queue('q999').jobs.count()).toBe(2);

    const result = await arbiter.uninstall({ queuesPerTransaction: 25 });
    expect(result.existed).toBe(true);
    expect(result.queuesDropped).toBe(QUEUES - 300);
    expect(result.queuesLeft).toBe(0);
    expect(result.objectsDropped).toBeGreaterThan(0);
    expect(await schemaExists()).toBe(false);
    // Once more: nothing to do.
    expect((await arbiter.uninstall()).existed).toBe(false);
    // The Arbiter notices: its calls say the schema must be migrated.
    await expect(arbiter.listQueues()).rejects.toMatchObject({ code: 'SCHEMA_NOT_MIGRATED' });
  });
});
