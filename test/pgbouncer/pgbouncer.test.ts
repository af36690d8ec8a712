import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter, type Job } from '../../src/index.js';
import { databaseUrl, uniqueName } from '../support/db.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { findPgBouncer, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';

/*
 * Arbiter through Debian's PgBouncer in transaction pooling mode, started here on a free port in front
 * of the test database. Skipped, saying so, where no pgbouncer binary is installed (.ci/run installs it).
 */
const bouncer = findPgBouncer();
const skipReason = bouncer ? '' : ' (skipped: no pgbouncer binary; apt-get install pgbouncer)';
/** PgBouncer keeps named prepared statements in transaction mode from 1.21 (max_prepared_statements). */
const keepsPreparedStatements = bouncer !== null && compareVersions(bouncer.version, '1.21.0') >= 0;

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

describe.skipIf(!bouncer)(`through PgBouncer in transaction mode${skipReason}`, () => {
  const schemas: string[] = [];
  const pools: pg.Pool[] = [];
  let proxy: PgBouncer;
  let direct: pg.Pool;

  beforeAll(async () => {
    proxy = await startPgBouncer(bouncer!.path, databaseUrl(), { poolMode: 'transaction', poolSize: 6 });
    direct = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  });
  afterEach(stopAll);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    for (const s of schemas) await direct?.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await direct?.end();
    await proxy?.stop();
  });

  /** A pool of connections to PgBouncer, closed after the file. */
  function bouncerPool(max = 8, url = proxy.url): pg.Pool {
    const pool = new pg.Pool({ connectionString: url, max });
    // An idle connection whose PgBouncer stopped must not end the test process.
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  }

  function arbiterThroughBouncer(schema: string, pool = bouncerPool()): Arbiter {
    return new Arbiter({ pool, schema, preparedStatements: false });
  }

  it.skipIf(keepsPreparedStatements)(
    `before 1.21 (here ${bouncer?.version}), named statements fail, and preparedStatements: false works`,
    async () => {
      // One server connection behind PgBouncer: the second client's Parse of a name the first prepared
      // lands on the same server connection.
      const single = await startPgBouncer(bouncer!.path, databaseUrl(), { poolSize: 1 });
      try {
        const schema = uniqueName('bouncer_named');
        schemas.push(schema);
        const setup = arbiterThroughBouncer(schema);
        await setup.migrate();
        await setup.createQueue('q');
        const [a, b] = [1, 2].map(() => new Arbiter({ pool: bouncerPool(1, single.url), schema }).queue('q'));
        await a!.enqueue({ n: 1 });
        await expect(b!.enqueue({ n: 2 })).rejects.toMatchObject({ code: '42P05' });

        const [c, d] = [1, 2].map(() => arbiterThroughBouncer(schema, bouncerPool(1, single.url)).queue('q'));
        await c!.enqueue({ n: 3 });
        await d!.enqueue({ n: 4 });
        const { rows } = await direct.query(`SELECT payload->>'n' AS n FROM "${schema}".q ORDER BY id`);
        expect(rows.map((r) => r.n)).toEqual(['1', '3', '4']);
      } finally {
        await single.stop();
      }
    },
  );

  it('migrations, enqueue (also in a transaction), claim, ack, retry, dead letters and admin calls', async () => {
    const schema = uniqueName('bouncer_ops');
    schemas.push(schema);
    const arbiter = arbiterThroughBouncer(schema);
    // Two processes migrating at once: the transaction-scoped lock holds through PgBouncer. Each
    // migration is its own transaction, so the two may share the work; each is applied exactly once.
    const other = arbiterThroughBouncer(schema);
    const [first, second] = await Promise.all([arbiter.migrate(), other.migrate()]);
    const all = loadMigrations().map((m) => m.version);
    expect([...first.applied, ...second.applied].sort((a, b) => a - b)).toEqual(all);
    expect(await arbiter.pendingMigrationSql()).toBe('');

    const q = await arbiter.createQueue<{ n: number }>('ops');
    const one = await q.enqueue({ n: 1 }, { groupKey: 'a' });
    await q.enqueueMany(
      [2, 3, 4].map((n) => ({ payload: { n }, groupKey: n % 2 ? 'a' : 'b', dedup: { key: `k${n}` } })),
    );
    await q.enqueueTree({ payload: { n: 5 }, children: [{ payload: { n: 6 } }] });

    // In the caller's transaction: PgBouncer keeps it on one server connection.
    const client = await bouncerPool(1).connect();
    try {
      await client.query('BEGIN');
      await q.enqueue({ n: 7 }, { tx: client });
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await q.enqueue({ n: 8 }, { tx: client });
      await client.query('COMMIT');
    } finally {
      client.release();
    }

    expect((await q.jobs.get(one!.id))?.payload).toEqual({ n: 1 });
    expect(await q.jobs.count()).toBe(7);
    expect((await q.jobs.list({ limit: 100 })).items.map((j) => j.payload.n).sort()).toEqual([
      1, 2, 3, 4, 5, 6, 8,
    ]);
    expect((await q.jobs.why(one!.id))?.reasons.length).toBeGreaterThan(0);
    expect(await arbiter.listQueues()).toEqual([expect.objectContaining({ name: 'ops' })]);

    const claimed = await q.claim({ limit: 10 });
    expect(claimed.map((j) => j.payload.n).sort()).toEqual([1, 2, 6, 8]);
    const byN = new Map(claimed.map((j) => [j.payload.n, j]));
    expect(await q.ack(byN.get(1)!)).toBe(1);
    expect(await q.retry(byN.get(2)!, { delayMs: 0, error: 'again' })).toBe(1);
    expect(await q.dlq.move(byN.get(8)!, 'given up')).toBe(1);
    expect(await q.dlq.count()).toBe(1);
    const dead = (await q.dlq.list()).items[0]!;
    expect(dead.payload).toEqual({ n: 8 });
    expect((await q.dlq.retry(dead.id))?.payload).toEqual({ n: 8 });
    expect(await q.jobs.cancel(byN.get(6)!.id)).toBe(1);
    expect(await arbiter.pauseQueue('ops')).toBe(true);
    expect(await q.claim()).toEqual([]);
    expect(await arbiter.resumeQueue('ops')).toBe(true);
  });

  it('poll-only workers run every job exactly once', async () => {
    const schema = uniqueName('bouncer_work');
    schemas.push(schema);
    const arbiter = arbiterThroughBouncer(schema);
    await arbiter.migrate();
    const q = await arbiter.createQueue<{ n: number }>('work');
    const runs = new Map<number, number>();
    const handler = async (job: Job<{ n: number }>) => {
      runs.set(job.payload.n, (runs.get(job.payload.n) ?? 0) + 1);
      if (job.payload.n % 7 === 0 && job.attempts === 1) throw new Error('first attempt fails');
    };
    const options = {
      concurrency: 4,
      listen: false,
      maintenance: false,
      reservedConnections: 0,
      pollIntervalMs: 20,
      queues: { work: { handler, backoff: () => 1 } },
    };
    await Promise.all(
      [1, 2, 3].map(() => startWorker(arbiterThroughBouncer(schema, bouncerPool(4)), options)),
    );
    const total = 300;
    // Producers race the workers, through PgBouncer too.
    await Promise.all(
      Array.from({ length: 6 }, (_, p) =>
        (async () => {
          const producer = arbiterThroughBouncer(schema, bouncerPool(2)).queue<{ n: number }>('work');
          for (let i = p; i < total; i += 6) {
            if (i % 3 === 0) await producer.enqueue({ n: i }, { groupKey: `g${i % 5}` });
            else await producer.enqueueMany([{ payload: { n: i } }]);
          }
        })(),
      ),
    );
    await waitFor(async () => (await q.jobs.count()) === 0 && runs.size === total, 'every job done', 60_000);
    for (let n = 0; n < total; n++) expect([n, runs.get(n)]).toEqual([n, n % 7 === 0 ? 2 : 1]);
  });

  it('a worker through PgBouncer with a direct connection string keeps LISTEN and maintenance', async () => {
    const schema = uniqueName('bouncer_direct');
    schemas.push(schema);
    const arbiter = arbiterThroughBouncer(schema);
    await arbiter.migrate();
    const q = await arbiter.createQueue<{ n: number }>('direct');
    const done: number[] = [];
    const worker = await startWorker(arbiter, {
      connectionString: databaseUrl(),
      reservedConnections: 0,
      pollIntervalMs: 60_000, // only NOTIFY can wake it in time
      queues: { direct: { handler: async (job: Job<{ n: number }>) => void done.push(job.payload.n) } },
    });
    await waitFor(() => worker.isLeader, 'the maintenance leader elected over the direct connection');
    for (let n = 0; n < 20; n++) await q.enqueue({ n });
    await waitFor(() => done.length === 20, 'jobs woken by NOTIFY', 20_000);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
