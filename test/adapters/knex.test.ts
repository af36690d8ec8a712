import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKnex } from '../../src/adapters/knex.js';
import { ValidationError } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { adapterScenarios, type InTransaction } from './scenarios.js';

describe('Knex adapter', () => {
  const t = useTestDb();
  let knex: Knex;
  beforeAll(() => {
    knex = knexFactory({ client: 'pg', connection: databaseUrl(), pool: { min: 0, max: 6 } });
  });
  afterAll(() => knex?.destroy());

  const inTx = (): InTransaction => (work) => knex.transaction((trx) => work(fromKnex(trx)));
  adapterScenarios(t, inTx);

  it('refuses the knex instance itself, and a transaction already committed', async () => {
    expect(() => fromKnex(knex as never)).toThrow(ValidationError);
    const q = await t.arbiter.createQueue('knex_done');
    let late: ReturnType<typeof fromKnex> | undefined;
    await knex.transaction(async (trx) => {
      late = fromKnex(trx);
    });
    await expect(q.enqueue({}, { tx: late! })).rejects.toThrow(/already completed/);
    expect(await q.claim()).toEqual([]);
  });
});
