// A migration that changes every queue's objects (0010: a trigger per queue) runs over the queues in
// batches, each its own transaction; interrupted, it leaves a working schema and resumes where it stopped.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { loadMigrations, renderMigration, schemaStatus } from '../../src/db/migrate.js';
import { databaseUrl, uniqueName } from '../support/db.js';

const QUEUES = 120;
const schema = uniqueName('mb');
let pool: pg.Pool;
let arbiter: Arbiter;

/** Brings the schema to migration 9, the way an older Arbiter did. */
async function migrateTo9(): Promise<void> {
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await pool.query(
    `CREATE TABLE "${schema}"._migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  for (const m of loadMigrations().filter((x) => x.version <= 9)) {
    await pool.query(
      `BEGIN; ${renderMigration(m, schema)}; INSERT INTO "${schema}"._migrations (version, name) VALUES (${m.version}, '${m.name}'); COMMIT;`,
    );
  }
}

const withTrigger = async (): Promise<number> =>
  (
    await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND g.tgname = c.relname || '_due_upd'`,
      [schema],
    )
  ).rows[0]!.n;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  arbiter = new Arbiter({ pool, schema });
  await migrateTo9();
  await pool.query(
    `SELECT "${schema}"._create_queue('q' || lpad(g::text, 3, '0')) FROM generate_series(1, ${QUEUES}) g`,
  );
  await pool.query(`INSERT INTO "${schema}"."q007" (payload) VALUES ('{"old": true}')`);
});

afterAll(async () => {
  await arbiter.uninstall({ force: true });
  await pool.end();
});

describe('per-queue migration in batches', () => {
  it('interrupted after two batches: a consistent schema, still behind; run again: finishes the rest', async () => {
    const stop = new Error('interrupted');
    const batches: number[] = [];
    const err = await arbiter
      .migrate({
        queuesPerTransaction: 25,
        onQueueBatch: (p) => {
          batches.push(p.upgraded);
          if (batches.length === 2) throw stop;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBe(stop);
    expect(batches).toEqual([25, 50]);
    // The schema-wide part committed, 50 queues upgraded; the migration is not recorded yet, so this
    // version's workers wait for it (schema behind) while older ones keep working.
    expect((await schemaStatus(arbiter.db, schema)).state).toBe('behind');
    expect(await withTrigger()).toBe(50);
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}"._upgraded_0010`,
    );
    expect(rows[0]!.n).toBe(50);
    // A queue created meanwhile comes with the new objects.
    await pool.query(`SELECT "${schema}"._create_queue('late')`);
    expect(await withTrigger()).toBe(51);

    const result = await arbiter.migrate({ queuesPerTransaction: 25 });
    expect(result.applied).toEqual(
      loadMigrations()
        .filter((m) => m.version >= 10)
        .map((m) => m.version),
    );
    expect((await schemaStatus(arbiter.db, schema)).state).toBe('current');
    expect(await withTrigger()).toBe(QUEUES + 1);
    const { rows: left } = await pool.query<{ fn: boolean; tbl: boolean }>(
      `SELECT to_regprocedure($1) IS NOT NULL AS fn, to_regclass($2) IS NOT NULL AS tbl`,
      [`"${schema}"._upgrade_queue_0010(text)`, `"${schema}"._upgraded_0010`],
    );
    expect(left[0]).toEqual({ fn: false, tbl: false });
    // Again: nothing to do.
    expect((await arbiter.migrate()).applied).toEqual([]);
    // Jobs from before the migration are still there and claimable.
    const { jobs } = await arbiter.store('q007').claim({ limit: 5, leaseMs: 10_000, workerId: 'w' });
    expect(jobs.map((j) => j.payload)).toEqual([{ old: true }]);
  });
});
