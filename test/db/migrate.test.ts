import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { Arbiter, SchemaTooNewError } from '../../src/index.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { databaseUrl, uniqueName, useTestDb } from '../support/db.js';

const t = useTestDb();

async function schemaFingerprint(pool: pg.Pool, schema: string): Promise<string> {
  const { rows } = await pool.query(
    `SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) AS f
     FROM information_schema.columns WHERE table_schema = $1`,
    [schema],
  );
  return rows[0].f;
}

describe('migrate', () => {
  it('is idempotent: a second run applies nothing', async () => {
    const again = await t.arbiter.migrate();
    expect(again.applied).toEqual([]);
    expect(again.current).toBe(loadMigrations().at(-1)!.version);
  });

  it('8 concurrent migrations on an empty schema: each migration applied exactly once, no errors', async () => {
    const schema = uniqueName('mig');
    const pools = Array.from({ length: 8 }, () => new pg.Pool({ connectionString: databaseUrl(), max: 1 }));
    try {
      const results = await Promise.all(pools.map((pool) => new Arbiter({ pool, schema }).migrate()));
      // Each migration is its own transaction under the lock, so between two of them another process
      // may take the next one: which process applies what is open, but every version exactly once.
      const applied = results.flatMap((r) => r.applied).sort((a, b) => a - b);
      expect(applied).toEqual(loadMigrations().map((m) => m.version));
      const { rows } = await pools[0]!.query(`SELECT count(*)::int AS n FROM "${schema}"._migrations`);
      expect(rows[0].n).toBe(loadMigrations().length);
      expect(await schemaFingerprint(pools[0]!, schema)).toBe(await schemaFingerprint(t.pool, t.schema));
    } finally {
      await pools[0]!.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('refuses to run against a schema migrated by a newer version', async () => {
    const schema = uniqueName('mig_new');
    const arbiter = new Arbiter({ pool: t.pool, schema });
    await arbiter.migrate();
    await t.pool.query(`INSERT INTO "${schema}"._migrations (version, name) VALUES (9999, 'future')`);
    await expect(arbiter.migrate()).rejects.toBeInstanceOf(SchemaTooNewError);
    await t.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  });

  it('prints the pending SQL for a dry run without applying it', async () => {
    const schema = uniqueName('mig_dry');
    const arbiter = new Arbiter({ pool: t.pool, schema });
    const sql = await arbiter.pendingMigrationSql();
    expect(sql).toContain(`CREATE TABLE "${schema}"._queues`);
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1`, [
      schema,
    ]);
    expect(rows[0].n).toBe(0);
  });
});

describe('queues', () => {
  it('createQueue is idempotent and listed; dropQueue removes everything', async () => {
    await t.arbiter.createQueue('mq_one');
    await Promise.all([
      t.arbiter.createQueue('mq_two'),
      t.arbiter.createQueue('mq_two'),
      t.arbiter.createQueue('mq_two'),
    ]);
    const names = (await t.arbiter.listQueues()).map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['mq_one', 'mq_two']));
    expect(await t.arbiter.dropQueue('mq_one')).toBe(true);
    expect(await t.arbiter.dropQueue('mq_one')).toBe(false);
    const { rows } = await t.pool.query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'mq_one%'`,
      [t.schema],
    );
    expect(rows[0].n).toBe(0);
  });
});

describe('pause', () => {
  it('a paused queue claims nothing until resumed; enqueue keeps working', async () => {
    const q = await t.arbiter.createQueue('mq_pause');
    await q.enqueue({ a: 1 });
    await q.enqueue({ b: 1 }, { groupKey: 'g' });
    expect(await t.arbiter.pauseQueue('mq_pause')).toBe(true);
    expect((await t.arbiter.listQueues()).find((x) => x.name === 'mq_pause')!.paused).toBe(true);
    await q.enqueue({ c: 1 });
    expect(await q.claim({ limit: 10 })).toEqual([]);
    expect(await t.arbiter.resumeQueue('mq_pause')).toBe(true);
    expect(await q.claim({ limit: 10 })).toHaveLength(3);
    expect(await t.arbiter.pauseQueue('mq_missing')).toBe(false);
  });
});
