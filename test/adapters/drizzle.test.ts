import { drizzle as drizzlePg, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePostgresJs, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromDrizzle } from '../../src/adapters/drizzle.js';
import { ValidationError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { adapterScenarios, type InTransaction } from './scenarios.js';

describe('Drizzle adapter (node-postgres)', () => {
  const t = useTestDb();
  let pool: pg.Pool;
  let db: NodePgDatabase;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 6 });
    db = drizzlePg(pool);
  });
  afterAll(() => pool?.end());

  const inTx = (): InTransaction => (work) => db.transaction((tx) => work(fromDrizzle(tx)));
  adapterScenarios(t, inTx);

  it('refuses the database object itself', () => {
    expect(() => fromDrizzle(db as never)).toThrow(ValidationError);
  });
});

describe('Drizzle adapter (postgres-js)', () => {
  const t = useTestDb();
  let sql: postgres.Sql;
  let db: PostgresJsDatabase;
  beforeAll(() => {
    sql = postgres(databaseUrl(), { max: 6, onnotice: () => undefined });
    db = drizzlePostgresJs(sql);
  });
  afterAll(() => sql?.end());

  const inTx = (): InTransaction => (work) => db.transaction((tx) => work(fromDrizzle(tx)));
  adapterScenarios(t, inTx);
});
