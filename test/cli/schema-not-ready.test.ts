import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arbiter } from '../../src/index.js';
import { databaseUrl, uniqueName, useTestDb } from '../support/db.js';
import { runCli } from './helpers.js';

const t = useTestDb();
const newer = uniqueName('newer');

beforeAll(async () => {
  const arbiter = new Arbiter({ pool: t.pool, schema: newer });
  await arbiter.migrate();
  await arbiter.createQueue('q');
  await t.pool.query(`INSERT INTO "${newer}"._migrations (version, name) VALUES (9999, 'future')`);
});
afterAll(() => t.pool.query(`DROP SCHEMA IF EXISTS "${newer}" CASCADE`));

function errorOf(stderr: string): { code: string; message: string } {
  return (JSON.parse(stderr) as { error: { code: string; message: string } }).error;
}

describe('a schema that is not ready', () => {
  it('exits 5 with the typed error: which condition, and what to run', async () => {
    const missing = uniqueName('missing');
    const cli = (schema: string, ...args: string[]) =>
      runCli(['--json', ...args], { databaseUrl: databaseUrl(), schema });
    const results = await Promise.all([
      cli(missing, 'queue', 'list'),
      cli(missing, 'workers'),
      cli(missing, 'enqueue', 'q', '{}'),
      cli(newer, 'enqueue', 'q', '{}'),
      cli(newer, 'jobs', 'list', 'q'),
    ]);
    expect(results.map((r) => [r.code, errorOf(r.stderr).code])).toEqual([
      [5, 'SCHEMA_NOT_MIGRATED'],
      [5, 'SCHEMA_NOT_MIGRATED'],
      [5, 'SCHEMA_NOT_MIGRATED'],
      [5, 'SCHEMA_TOO_NEW'],
      [5, 'SCHEMA_TOO_NEW'],
    ]);
    expect(errorOf(results[0]!.stderr).message).toBe(
      `schema "${missing}" does not exist; run \`arbiter migrate --schema ${missing}\` or call arbiter.migrate()`,
    );
    expect(errorOf(results[3]!.stderr).message).toMatch(/at migration 9999 .*upgrade arbiter/);
    // Nothing was written to the newer schema.
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${newer}".q`);
    expect(rows[0].n).toBe(0);
  });
});
