import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPostgresJs } from '../../src/adapters/postgres-js.js';
import { ValidationError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { adapterScenarios, type InTransaction } from './scenarios.js';

describe('postgres.js adapter', () => {
  const t = useTestDb();
  let sql: postgres.Sql;
  beforeAll(() => {
    sql = postgres(databaseUrl(), { max: 6, onnotice: () => undefined });
  });
  afterAll(() => sql?.end());

  const inTx = (): InTransaction => (work) =>
    sql.begin((tx) => work(fromPostgresJs(tx))) as unknown as Promise<never>;
  adapterScenarios(t, inTx);

  it('the caller’s own statements and Arbiter’s share the transaction', async () => {
    const q = await t.arbiter.createQueue('pgjs_shared');
    const table = `"${t.schema}".pgjs_orders`;
    await sql.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    const job = await sql.begin(async (tx) => {
      await tx.unsafe(`INSERT INTO ${table} VALUES (1)`);
      return q.enqueue({ order: 1 }, { tx: fromPostgresJs(tx) });
    });
    const [row] = await sql.unsafe(`SELECT count(*)::int AS n FROM ${table}`);
    expect(row!.n).toBe(1);
    expect((await q.claim())[0]!.id).toBe(job!.id);
  });

  it('keeps every digit of 64-bit ids when the instance parses bigint as BigInt', async () => {
    const q = await t.arbiter.createQueue('pgjs_bigint');
    await t.pool
      .query(`ALTER SEQUENCE "${t.schema}".pgjs_bigint_id_seq RESTART WITH 9007199254740993`)
      .catch(async () => {
        const { rows } = await t.pool.query<{ seq: string }>(
          `SELECT pg_get_serial_sequence($1, 'id') AS seq`,
          [`"${t.schema}".pgjs_bigint`],
        );
        await t.pool.query(`ALTER SEQUENCE ${rows[0]!.seq} RESTART WITH 9007199254740993`);
      });
    const big = postgres(databaseUrl(), { max: 1, types: { bigint: postgres.BigInt } });
    try {
      const job = await big.begin((tx) => q.enqueue({ n: 1 }, { tx: fromPostgresJs(tx) }));
      expect(job!.id).toBe('9007199254740993');
      expect((await q.claim())[0]!.id).toBe('9007199254740993');
    } finally {
      await big.end();
    }
  });

  it('refuses the root sql, and an instance that renames columns, leaving nothing written', async () => {
    expect(() => fromPostgresJs(sql as never)).toThrow(ValidationError);
    const q = await t.arbiter.createQueue('pgjs_camel');
    const camel = postgres(databaseUrl(), { max: 1, transform: postgres.camel });
    try {
      await expect(camel.begin((tx) => q.enqueue({ n: 1 }, { tx: fromPostgresJs(tx) }))).rejects.toThrow(
        /renames columns/,
      );
    } finally {
      await camel.end();
    }
    expect(await q.claim()).toEqual([]);
  });
});
