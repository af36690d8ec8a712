import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { useOwnDatabase, useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

// Every claim and completion leaves a dead row; on a server whose autovacuum is off (or far behind) a busy
// queue table fills with them and its claims slow down by the minute. The maintenance leader vacuums such
// tables itself.
//
// VACUUM only removes rows older than the oldest snapshot open in their database, and the shared test
// database has other files' transactions open at any moment: these tests get a database of their own.
const own = useOwnDatabase(useTestDb(), 'arbiter_vacuum');
const t = { schema: 'vac' } as { schema: string; pool: pg.Pool; arbiter: Arbiter };
beforeAll(async () => {
  t.pool = new pg.Pool({ connectionString: own.url, max: 6 });
  t.pool.on('error', () => undefined);
  t.arbiter = new Arbiter({ pool: t.pool, schema: t.schema });
  await t.arbiter.migrate();
});
afterEach(stopAll);
afterAll(async () => {
  await t.pool?.end();
});

async function deadTuples(table: string): Promise<{ dead: number; vacuumed: boolean }> {
  const { rows } = await t.pool.query<{ dead: string; last_vacuum: Date | null }>(
    `SELECT n_dead_tup::text AS dead, last_vacuum FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`,
    [t.schema, table],
  );
  return { dead: Number(rows[0]?.dead ?? 0), vacuumed: rows[0]?.last_vacuum != null };
}

describe('leader vacuum', () => {
  it('vacuums a job table full of dead rows when autovacuum does not', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('vac_q');
    await t.pool.query(`ALTER TABLE "${t.schema}".vac_q SET (autovacuum_enabled = false)`);
    for (let i = 0; i < 3; i++)
      await q.enqueueManyCount(Array.from({ length: 5_000 }, (_, n) => ({ payload: { n } })));
    for (;;) {
      const jobs = await q.claim({ limit: 1_000 });
      if (jobs.length === 0) break;
      await q.ackBulk(jobs);
    }
    expect(await count(t.pool, t.schema, 'vac_q')).toBe(0);
    // Statistics reach pg_stat_user_tables asynchronously.
    await waitFor(async () => (await deadTuples('vac_q')).dead >= 10_000, 'dead tuples counted');
    const vacuumed: { table: string; deadTuples: number }[] = [];
    const w = await startWorker(t.arbiter, {
      maintenanceIntervalMs: 100,
      queues: { vac_q: { handler: async () => {} } },
    });
    w.on('maintenance:vacuumed', (e) => vacuumed.push(e));
    await waitFor(() => vacuumed.some((e) => e.table === 'vac_q'), 'the leader vacuumed vac_q');
    expect(vacuumed.find((e) => e.table === 'vac_q')!.deadTuples).toBeGreaterThanOrEqual(10_000);
    await waitFor(async () => {
      const s = await deadTuples('vac_q');
      return s.vacuumed && s.dead < 1_000;
    }, 'dead tuples gone');
  });

  it('leaves a table alone while its dead rows are few', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('vac_small');
    await q.enqueueManyCount(Array.from({ length: 300 }, (_, n) => ({ payload: { n } })));
    const vacuumed: string[] = [];
    const w = await startWorker(t.arbiter, {
      maintenanceIntervalMs: 100,
      queues: { vac_small: { handler: async () => {} } },
    });
    w.on('maintenance:vacuumed', (e) => vacuumed.push(e.table));
    await waitFor(async () => (await count(t.pool, t.schema, 'vac_small')) === 0, 'all done');
    await new Promise((r) => setTimeout(r, 500));
    expect(vacuumed.filter((x) => x.startsWith('vac_small'))).toEqual([]);
  });
});
