import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Arbiter } from '../../src/index.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { databaseUrl, uniqueName } from '../support/db.js';

const schema = uniqueName('mig');
let pool: pg.Pool | undefined;

afterAll(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool?.end();
});

const triggers = async (p: pg.Pool, table: string) =>
  (
    await p.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname LIKE '%notify%' ORDER BY tgname`,
      [`"${schema}"."${table}"`],
    )
  ).rows.map((r) => r.tgname);

describe('migration 0002 (workers)', () => {
  it('upgrades queues created under version 1 and gives new queues their notify triggers', async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    // A schema at version 1 with a queue in it, as an older Arbiter left it.
    const [v1] = loadMigrations();
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}"._migrations (version integer PRIMARY KEY, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    await pool.query(v1!.template.replaceAll('{{schema}}', schema));
    await pool.query(`INSERT INTO "${schema}"._migrations (version, name) VALUES (1, $1)`, [v1!.name]);
    await pool.query(`SELECT "${schema}"._create_queue('legacy')`);
    expect(await triggers(pool, 'legacy')).toEqual([]);

    const arbiter = new Arbiter({ pool, schema });
    const result = await arbiter.migrate();
    expect(result.applied).toContain(2);
    expect(await triggers(pool, 'legacy')).toEqual(['legacy_notify_ins', 'legacy_notify_upd']);
    await arbiter.createQueue('fresh');
    expect(await triggers(pool, 'fresh')).toEqual(['fresh_notify_ins', 'fresh_notify_upd']);
    // Idempotent: a second createQueue neither fails nor duplicates anything.
    await arbiter.createQueue('fresh');
    expect(await triggers(pool, 'fresh')).toEqual(['fresh_notify_ins', 'fresh_notify_upd']);
    const history = async (q: string) =>
      (await pool!.query(`SELECT to_regclass($1) AS h`, [`"${schema}"."${q}_history"`])).rows[0].h;
    expect(await history('legacy')).not.toBeNull();
    expect(await history('fresh')).not.toBeNull();
    expect(await arbiter.dropQueue('fresh')).toBe(true);
    expect(await history('fresh')).toBeNull();
    const tables = await pool.query(`SELECT to_regclass($1) AS w, to_regclass($2) AS c`, [
      `"${schema}"._workers`,
      `"${schema}"._cron`,
    ]);
    expect(tables.rows[0].w).not.toBeNull();
    expect(tables.rows[0].c).not.toBeNull();
  });
});
