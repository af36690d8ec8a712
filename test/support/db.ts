import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { Arbiter } from '../../src/index.js';

export function databaseUrl(): string {
  return inject('databaseUrl');
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestDb {
  /** An Arbiter on this file's own schema, migrated. */
  arbiter: Arbiter;
  schema: string;
  pool: pg.Pool;
  /** Opens extra connections (closed after the file). */
  connect(): Promise<pg.Client>;
}

/**
 * Gives the calling test file its own schema in the shared test database, migrated, and drops it
 * afterwards, so files run in parallel without seeing each other's rows.
 */
export function useTestDb(options: { poolSize?: number } = {}): TestDb {
  const schema = uniqueName('t');
  const clients: pg.Client[] = [];
  const ctx = {} as TestDb;
  beforeAll(async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: options.poolSize ?? 12 });
    pool.on('error', () => undefined);
    const arbiter = new Arbiter({ pool, schema });
    await arbiter.migrate();
    Object.assign(ctx, {
      arbiter,
      schema,
      pool,
      async connect() {
        const c = new pg.Client({ connectionString: databaseUrl() });
        c.on('error', () => undefined);
        await c.connect();
        clients.push(c);
        return c;
      },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    if (ctx.pool) {
      await ctx.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await ctx.pool.end();
    }
  });
  return ctx;
}

/** Resolves once some session waits on a lock held by `holder` (a connection with a transaction open). */
export async function untilBlockedBy(pool: pg.Pool, holder: pg.Client): Promise<void> {
  const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))',
      [pid],
    );
    if (rows[0]!.n > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sets a job's timestamps relative to database time, for tests that need time to have passed. */
export async function shiftJob(
  pool: pg.Pool,
  schema: string,
  queue: string,
  id: string,
  set: string,
): Promise<void> {
  await pool.query(`UPDATE "${schema}"."${queue}" SET ${set} WHERE id = $1`, [id]);
}

export interface OwnDatabase {
  /** The database's name (already quoted nowhere: it is generated, lowercase hex). */
  name: string;
  /** A connection string to it: the test server's, with this database. */
  url: string;
}

/**
 * Gives the calling test file a database of its own on the test server, created before its tests and
 * dropped (sessions and all) after them, for tests that must not share database-wide state with the
 * files running beside them: a session setting on the database, its connection limit, or the oldest
 * open snapshot, which decides what VACUUM may remove.
 */
export function useOwnDatabase(admin: TestDb, prefix: string): OwnDatabase {
  const own = { name: `${prefix}_${randomBytes(4).toString('hex')}`, url: '' };
  beforeAll(async () => {
    await admin.pool.query(`CREATE DATABASE "${own.name}"`);
    const u = new URL(databaseUrl());
    u.pathname = `/${own.name}`;
    own.url = u.toString();
  });
  afterAll(async () => {
    await admin.pool.query(`DROP DATABASE IF EXISTS "${own.name}" WITH (FORCE)`);
  });
  return own;
}
