import { afterAll, describe, expect, it } from 'vitest';
import {
  Arbiter,
  QueueNotFoundError,
  SchemaNotMigratedError,
  SchemaTooNewError,
  type Executor,
} from '../../src/index.js';
import { PoolExecutor } from '../../src/db/pg-executor.js';
import { uniqueName, useTestDb } from '../support/db.js';

const t = useTestDb();
const extraSchemas: string[] = [];
afterAll(async () => {
  for (const s of extraSchemas) await t.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

function schemaName(prefix: string): string {
  const schema = uniqueName(prefix);
  extraSchemas.push(schema);
  return schema;
}

/** An executor over the test pool that records every statement's text. */
function recording(): { db: Executor; texts: string[] } {
  const inner = new PoolExecutor(t.pool);
  const texts: string[] = [];
  const db: Executor = {
    query: (text, values, name) => {
      texts.push(text);
      return inner.query(text, values, name);
    },
    transaction: (fn) => inner.transaction(fn),
  };
  return { db, texts };
}

/** Every kind of Arbiter call, each settled: the error it threw, or 'ok'. */
async function callEverything(arbiter: Arbiter): Promise<unknown[]> {
  const q = arbiter.queue('q');
  const calls: (() => Promise<unknown>)[] = [
    () => q.enqueue({ a: 1 }),
    () => q.enqueueMany([{ payload: 1 }]),
    () => q.claim(),
    () => q.jobs.count(),
    () => q.dlq.count(),
    () => arbiter.listQueues(),
    () => arbiter.getQueue('q'),
    () => arbiter.createQueue('other'),
    () => arbiter.pauseQueue('q'),
  ];
  const out: unknown[] = [];
  for (const call of calls)
    out.push(
      await call().then(
        () => 'ok',
        (err: unknown) => err,
      ),
    );
  return out;
}

describe('the schema check on Arbiter calls', () => {
  it('a missing schema: every call rejects with SchemaNotMigratedError, not a raw undefined-table error', async () => {
    const arbiter = new Arbiter({ pool: t.pool, schema: schemaName('sk_none') });
    const errors = await callEverything(arbiter);
    for (const e of errors) {
      expect(e).toBeInstanceOf(SchemaNotMigratedError);
      expect((e as SchemaNotMigratedError).state).toBe('missing');
    }
    await expect(arbiter.checkSchema()).rejects.toThrow(/does not exist; run `arbiter migrate/);
  });

  it('a schema migrated by a newer version: every call rejects with SchemaTooNewError, nothing is written', async () => {
    const schema = schemaName('sk_new');
    const setup = new Arbiter({ pool: t.pool, schema });
    await setup.migrate();
    await setup.createQueue('q');
    await t.pool.query(`INSERT INTO "${schema}"._migrations (version, name) VALUES (9999, 'future')`);
    const errors = await callEverything(new Arbiter({ pool: t.pool, schema }));
    for (const e of errors) expect(e).toBeInstanceOf(SchemaTooNewError);
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${schema}".q`);
    expect(rows[0].n).toBe(0);
    expect((await t.pool.query(`SELECT name FROM "${schema}"._queues`)).rows).toEqual([{ name: 'q' }]);
  });

  it('on a current schema a queue never created is still QueueNotFoundError', async () => {
    await expect(t.arbiter.queue('sk_never').enqueue({})).rejects.toBeInstanceOf(QueueNotFoundError);
  });

  it('is checked once per Arbiter: later calls send no extra statement', async () => {
    await t.arbiter.createQueue('sk_once');
    const { db, texts } = recording();
    const arbiter = new Arbiter({ executor: db, schema: t.schema });
    const q = arbiter.queue('sk_once');
    await Promise.all([q.enqueue({ n: 1 }), q.enqueue({ n: 2 }), arbiter.listQueues()]);
    const afterFirst = texts.length;
    for (let n = 0; n < 20; n++) await q.enqueue({ n });
    await q.claim({ limit: 5 });
    const isCheck = (s: string) => s.includes('to_regnamespace') || s.includes('_migrations');
    expect(texts.filter((s) => s.includes('to_regnamespace'))).toHaveLength(1);
    expect(texts.slice(afterFirst).filter(isCheck)).toEqual([]);
    expect(texts.length).toBeGreaterThan(afterFirst);
  });

  it('a failure is not remembered: once the schema is migrated, the same Arbiter works', async () => {
    const arbiter = new Arbiter({ pool: t.pool, schema: schemaName('sk_later') });
    await expect(arbiter.listQueues()).rejects.toBeInstanceOf(SchemaNotMigratedError);
    await new Arbiter({ pool: t.pool, schema: arbiter.schema }).migrate();
    expect(await arbiter.listQueues()).toEqual([]);
  });

  it('a schema dropped after the check passed is reported as missing, not as a missing queue', async () => {
    const schema = schemaName('sk_dropped');
    const arbiter = new Arbiter({ pool: t.pool, schema });
    await arbiter.migrate();
    const q = await arbiter.createQueue('q');
    await q.enqueue({});
    await t.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    const err = await q.enqueue({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaNotMigratedError);
    expect((err as SchemaNotMigratedError).state).toBe('missing');
  });

  it('checking inside a caller transaction leaves the transaction usable', async () => {
    const client = await t.connect();
    await client.query('BEGIN');
    try {
      const arbiter = new Arbiter({ executor: client, schema: schemaName('sk_tx') });
      await expect(arbiter.checkSchema()).rejects.toBeInstanceOf(SchemaNotMigratedError);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
