import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, ValidationError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';

const t = useTestDb();
const pools: pg.Pool[] = [];
afterAll(() => Promise.all(pools.map((p) => p.end())));

/** An Arbiter on a pool of one connection, and what that connection has prepared. */
function onOneConnection(preparedStatements?: boolean) {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  pools.push(pool);
  const arbiter = new Arbiter({
    pool,
    schema: t.schema,
    ...(preparedStatements === undefined ? {} : { preparedStatements }),
  });
  const prepared = async () =>
    (await pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name);
  return { arbiter, pool, prepared };
}

describe('preparedStatements', () => {
  it('by default, Arbiter prepares its statements once per connection', async () => {
    await t.arbiter.createQueue('ps_default');
    const { arbiter, prepared } = onOneConnection();
    const q = arbiter.queue('ps_default');
    await q.enqueue({ n: 1 });
    const [job] = await q.claim();
    await q.ack(job!);
    expect((await prepared()).length).toBeGreaterThan(0);
  });

  it('false: nothing is prepared, on the pool or on a client passed as tx', async () => {
    await t.arbiter.createQueue('ps_off');
    const { arbiter, pool, prepared } = onOneConnection(false);
    const q = arbiter.queue('ps_off');
    await q.enqueue({ n: 1 });
    await q.enqueueMany([{ payload: { n: 2 } }, { payload: { n: 3 }, groupKey: 'g' }]);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await q.enqueue({ n: 4 }, { tx: client });
      await q.enqueueTree({ payload: { n: 5 }, children: [{ payload: { n: 6 } }] }, { tx: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const claimed = await q.claim({ limit: 10 });
    for (const job of claimed) await q.ack(job);
    expect(claimed.map((j) => (j.payload as { n: number }).n).sort()).toEqual([1, 2, 3, 4, 6]);
    expect(await prepared()).toEqual([]);
  });

  it('must be a boolean', () => {
    expect(() => new Arbiter({ pool: t.pool, preparedStatements: 'no' as never })).toThrow(ValidationError);
  });
});
