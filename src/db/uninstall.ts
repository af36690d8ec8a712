import { validateSchemaName } from '../core/identifiers.js';
import { SchemaInUseError } from '../errors.js';
import type { Executor } from './executor.js';
import { quoteIdent } from './sql.js';

export interface UninstallOptions {
  /** Drop the schema although workers sent a heartbeat in the last minute. Default false. */
  force?: boolean;
  /** Queues dropped per transaction. Default 10 (each queue is about 30 objects, each one lock). */
  queuesPerTransaction?: number;
  /** Called after each transaction with what is done so far. */
  onProgress?: (progress: UninstallProgress) => void;
}

export interface UninstallProgress {
  queuesDropped: number;
  queuesLeft: number;
  objectsDropped: number;
}

export interface UninstallResult extends UninstallProgress {
  schema: string;
  /** False when there was no such schema (nothing was done). */
  existed: boolean;
  transactions: number;
}

/** Objects other than queues dropped per transaction. */
const OBJECTS_PER_TRANSACTION = 100;
/** A worker heard from this recently counts as running. */
const LIVE_WORKER_MS = 60_000;

/**
 * Removes Arbiter's schema in many short transactions, so it works with any number of queues (a single
 * `DROP SCHEMA ... CASCADE` takes one lock per object and runs out of lock memory past a few hundred
 * queues). First the queues, `queuesPerTransaction` at a time through the schema's own `_drop_queue`
 * (every transaction leaves a consistent schema: the queues not dropped yet still work), then whatever
 * else the schema holds, then the schema itself. Interrupted, it is simply run again.
 */
export async function uninstall(
  db: Executor,
  schema: string,
  o: UninstallOptions = {},
): Promise<UninstallResult> {
  validateSchemaName(schema);
  const s = quoteIdent(schema);
  const perTx = Math.max(1, Math.min(o.queuesPerTransaction ?? 10, 100));
  const out: UninstallResult = {
    schema,
    existed: true,
    transactions: 0,
    queuesDropped: 0,
    queuesLeft: 0,
    objectsDropped: 0,
  };
  const { rows: found } = await db.query<{ ns: boolean; queues: boolean; workers: boolean; drop: boolean }>(
    `SELECT to_regnamespace($1) IS NOT NULL AS ns, to_regclass($2) IS NOT NULL AS queues,
            to_regclass($3) IS NOT NULL AS workers, to_regprocedure($4) IS NOT NULL AS drop`,
    [s, `${s}._queues`, `${s}._workers`, `${s}._drop_queue(text)`],
  );
  if (!found[0]?.ns) return { ...out, existed: false };
  if (found[0].workers && !o.force) {
    const { rows } = await db.query<{ id: string }>(
      `SELECT id FROM ${s}._workers WHERE last_heartbeat > now() - $1::int * interval '1 millisecond' ORDER BY id`,
      [LIVE_WORKER_MS],
    );
    if (rows.length > 0)
      throw new SchemaInUseError(
        schema,
        rows.map((r) => r.id),
      );
  }
  const lock = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';
  const lockKey = `arbiter:migrate:${schema}`;
  if (found[0].queues && found[0].drop) {
    for (;;) {
      const batch = await db.transaction(async (tx) => {
        await tx.query(lock, [lockKey]);
        const { rows } = await tx.query<{ name: string; left: string }>(
          `SELECT name, count(*) OVER () AS left FROM ${s}._queues ORDER BY name LIMIT $1`,
          [perTx],
        );
        for (const r of rows) await tx.query(`SELECT ${s}._drop_queue($1)`, [r.name]);
        return { dropped: rows.length, left: rows.length === 0 ? 0 : Number(rows[0]!.left) - rows.length };
      });
      out.transactions++;
      out.queuesDropped += batch.dropped;
      out.queuesLeft = batch.left;
      o.onProgress?.({ ...out });
      if (batch.dropped === 0 || batch.left === 0) break;
    }
  }
  // What is left: the schema-wide tables and functions, and any per-queue object a queue left behind.
  for (;;) {
    const n = await db.transaction(async (tx) => {
      await tx.query(lock, [lockKey]);
      const { rows } = await tx.query<{ kind: string; name: string }>(
        `SELECT 'TABLE' AS kind, format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
         UNION ALL
         SELECT 'SEQUENCE', format('%I.%I', n.nspname, c.relname)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'S'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
         UNION ALL
         SELECT 'FUNCTION', p.oid::regprocedure::text
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
         LIMIT $2`,
        [schema, OBJECTS_PER_TRANSACTION],
      );
      // Names come from the catalog, quoted by format('%I') or regprocedure's output.
      for (const r of rows) await tx.query(`DROP ${r.kind} IF EXISTS ${r.name} CASCADE`);
      return rows.length;
    });
    out.transactions++;
    out.objectsDropped += n;
    o.onProgress?.({ ...out });
    if (n === 0) break;
  }
  await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  out.transactions++;
  return out;
}
