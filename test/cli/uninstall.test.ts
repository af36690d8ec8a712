import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { databaseUrl, uniqueName } from '../support/db.js';
import { json, runCli } from './helpers.js';

const schema = uniqueName('unc');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  const arbiter = new Arbiter({ pool, schema });
  await arbiter.migrate();
  for (const q of ['a', 'b', 'c']) await (await arbiter.createQueue(q)).enqueue({ q });
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

const exists = async () =>
  (await pool.query<{ ok: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS ok', [`"${schema}"`]))
    .rows[0]!.ok;

describe('arbiter uninstall', () => {
  it('asks for --yes, then removes the schema and reports what it dropped', async () => {
    const refused = await runCli(['uninstall'], { databaseUrl: databaseUrl(), schema });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('without --yes');
    expect(await exists()).toBe(true);

    const done = await runCli(['--json', 'uninstall', '--yes', '--batch', '2'], {
      databaseUrl: databaseUrl(),
      schema,
    });
    expect(done.code, done.stderr).toBe(0);
    const out = json<{ existed: boolean; queuesDropped: number; transactions: number }>(done);
    expect(out.existed).toBe(true);
    expect(out.queuesDropped).toBe(3);
    // 3 queues 2 at a time, the other objects, the schema.
    expect(out.transactions).toBeGreaterThanOrEqual(4);
    expect(await exists()).toBe(false);

    const again = await runCli(['uninstall', '--yes'], { databaseUrl: databaseUrl(), schema });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('does not exist');
  });
});
