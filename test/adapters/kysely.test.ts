import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKysely } from '../../src/adapters/kysely.js';
import { ValidationError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { adapterScenarios, type InTransaction } from './scenarios.js';

describe('Kysely adapter', () => {
  const t = useTestDb();
  let pool: pg.Pool;
  // CamelCasePlugin renames result columns: the adapter must run Arbiter's statements without it.
  let db: Kysely<Record<string, never>>;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 6 });
    db = new Kysely({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
  });
  afterAll(() => db?.destroy());

  const inTx = (): InTransaction => (work) => db.transaction().execute((trx) => work(fromKysely(trx)));
  adapterScenarios(t, inTx);

  it('refuses the Kysely instance itself', () => {
    expect(() => fromKysely(db)).toThrow(ValidationError);
  });
});
