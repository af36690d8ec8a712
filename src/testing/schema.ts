import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Arbiter } from '../client/arbiter.js';
import { validateSchemaName } from '../core/identifiers.js';
import { checkOptions } from '../core/validate.js';
import { quoteIdent } from '../db/sql.js';
import { ValidationError } from '../errors.js';

export interface TestSchemaOptions {
  /** The test database. Default: `process.env.DATABASE_URL`. Give this or `pool`. */
  connectionString?: string;
  /** An existing pool to use instead (not closed by `drop()`). */
  pool?: pg.Pool;
  /** Start of the schema's name; a random suffix follows. Default `arbiter_test`. */
  prefix?: string;
  /** Queues to create once migrated. */
  queues?: readonly string[];
  /** Connections of the pool created from `connectionString`. Default 5. */
  poolSize?: number;
}

export interface TestSchema {
  /** An Arbiter on the schema, migrated: pass it to your code and to `createWorker`. */
  readonly arbiter: Arbiter;
  /** The schema's name (`<prefix>_<random>`). */
  readonly schema: string;
  /** The pool the Arbiter uses. */
  readonly pool: pg.Pool;
  /** Drops the schema with everything in it and closes the pool it created. Safe to call twice. */
  drop(): Promise<void>;
}

const KEYS = ['connectionString', 'pool', 'prefix', 'queues', 'poolSize'] as const;

/**
 * A schema of its own for one test file: created, migrated, with the given queues, on the test database.
 * Test files then run in parallel without seeing each other's jobs. Call `drop()` after the file's
 * tests (in `afterAll`, `after`, or a `finally`).
 */
export async function createTestSchema(options: TestSchemaOptions = {}): Promise<TestSchema> {
  const o = checkOptions<TestSchemaOptions>(options, 'options', KEYS);
  const prefix = o.prefix ?? 'arbiter_test';
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  validateSchemaName(prefix, 'options.prefix');
  validateSchemaName(schema, 'options.prefix'); // the suffix must fit too
  const connectionString = o.connectionString ?? (o.pool ? undefined : process.env.DATABASE_URL);
  if (!o.pool && !connectionString) {
    throw new ValidationError(
      'options.connectionString',
      connectionString,
      'give a connectionString or a pool (or set DATABASE_URL)',
    );
  }
  const ownPool = !o.pool;
  const pool = o.pool ?? new pg.Pool({ connectionString, max: o.poolSize ?? 5 });
  if (ownPool) pool.on('error', () => undefined); // a connection dropped while idle is not the test's failure
  const arbiter = new Arbiter({ pool, schema });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    try {
      await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    } finally {
      if (ownPool) await pool.end();
    }
  };
  try {
    await arbiter.migrate();
    for (const name of o.queues ?? []) await arbiter.createQueue(name);
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return { arbiter, schema, pool, drop };
}
