import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// Read-only catalog and statistics queries for `arbiter doctor` (src/client/doctor.ts).

export interface QueueObjectsRow {
  name: string;
  /** Which of the given table suffixes exist for this queue ('' is the job table itself). */
  tables: string[];
  /** Triggers on the job table (user triggers included; internal constraint triggers excluded). */
  triggers: string[];
  /** Of those, the ones disabled (ALTER TABLE … DISABLE TRIGGER). */
  disabled_triggers: string[];
}

/** Per registered queue: which of `tableSuffixes` exist, and the triggers on its job table. */
export async function doctorQueueObjects(
  db: Executor,
  schema: string,
  tableSuffixes: readonly string[],
): Promise<QueueObjectsRow[]> {
  const { rows } = await db.query<QueueObjectsRow>(
    `SELECT q.name,
       ARRAY(SELECT sfx FROM unnest($2::text[]) AS sfx
             WHERE to_regclass(format('%I.%I', $1::text, q.name || sfx)) IS NOT NULL) AS tables,
       ARRAY(SELECT t.tgname::text FROM pg_trigger t
             WHERE t.tgrelid = to_regclass(format('%I.%I', $1::text, q.name)) AND NOT t.tgisinternal
             ORDER BY t.tgname) AS triggers,
       ARRAY(SELECT t.tgname::text FROM pg_trigger t
             WHERE t.tgrelid = to_regclass(format('%I.%I', $1::text, q.name)) AND NOT t.tgisinternal
               AND t.tgenabled = 'D'
             ORDER BY t.tgname) AS disabled_triggers
     FROM ${quoteIdent(schema)}._queues q ORDER BY q.name`,
    [schema, [...tableSuffixes]],
  );
  return rows;
}

export interface QueueBlueprint {
  /** Table suffixes `_create_queue` creates ('' is the job table). */
  tables: string[];
  /** Trigger suffixes it puts on the job table. */
  triggers: string[];
}

/**
 * Creates queue `probe` with the schema's own `_create_queue` and reads back what it made. Run it inside
 * a transaction the caller rolls back: the probe queue never becomes visible.
 */
export async function doctorProbeQueue(tx: Executor, schema: string, probe: string): Promise<QueueBlueprint> {
  await tx.query(`SELECT ${quoteIdent(schema)}._create_queue($1)`, [probe]);
  const { rows } = await tx.query<QueueBlueprint>(
    `SELECT
       ARRAY(SELECT substr(c.relname, length($2) + 1) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND left(c.relname, length($2)) = $2
             ORDER BY c.relname) AS tables,
       ARRAY(SELECT substr(t.tgname, length($2) + 1) FROM pg_trigger t
             WHERE t.tgrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND NOT t.tgisinternal
               AND left(t.tgname, length($2)) = $2
             ORDER BY t.tgname) AS triggers`,
    [schema, probe],
  );
  return rows[0]!;
}

export interface GroupDriftRow {
  /** Rows in the groups table. */
  groups: number;
  /**
   * Group keys whose row disagrees with the jobs: a group with jobs but no row, a row with no jobs, a lease
   * count that differs from the jobs holding a lease, or a ready_at later than the group's first job
   * that could run (which would keep it from being claimed).
   */
  drifted: number;
}

/** Compares each group's row with what its jobs say (one full scan of the queue). */
export async function doctorGroupDrift(db: Executor, t: QueueTables): Promise<GroupDriftRow> {
  const { rows } = await db.query<{ groups: string; drifted: string }>(
    `WITH real AS (
       SELECT group_key, count(*) FILTER (WHERE leased_until IS NOT NULL) AS leased,
         min(run_at) FILTER (WHERE NOT suspended AND attempts < max_attempts) AS due
       FROM ${t.jobs} WHERE group_key IS NOT NULL GROUP BY group_key
     )
     SELECT (SELECT count(*) FROM ${t.groups}) AS groups,
       (SELECT count(*) FROM real r FULL JOIN ${t.groups} g ON g.group_key = r.group_key
        WHERE r.group_key IS NULL OR g.group_key IS NULL OR r.leased <> g.in_flight_count
           OR (r.due IS NOT NULL AND (g.ready_at IS NULL OR g.ready_at > greatest(r.due, g.in_flight_until))))
         AS drifted`,
  );
  const r = rows[0]!;
  return { groups: Number(r.groups), drifted: Number(r.drifted) };
}

export interface TableHealthRow {
  table: string;
  live_tuples: string | null;
  dead_tuples: string | null;
  last_vacuum: Date | null;
  last_autovacuum: Date | null;
  last_analyze: Date | null;
  last_autoanalyze: Date | null;
  xid_age: number;
  freeze_max_age: string;
  /** The server-wide autovacuum setting. */
  autovacuum_on: boolean;
  /** False when the table's own storage parameter turns autovacuum off. */
  table_autovacuum_enabled: boolean;
}

/** Vacuum statistics and transaction-id age of every table in the schema. */
export async function doctorTableHealth(db: Executor, schema: string): Promise<TableHealthRow[]> {
  const { rows } = await db.query<TableHealthRow>(
    `SELECT c.relname::text AS table, s.n_live_tup::text AS live_tuples, s.n_dead_tup::text AS dead_tuples,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       age(c.relfrozenxid) AS xid_age,
       current_setting('autovacuum_freeze_max_age') AS freeze_max_age,
       current_setting('autovacuum') = 'on' AS autovacuum_on,
       coalesce((SELECT option_value FROM pg_options_to_table(c.reloptions)
                 WHERE option_name = 'autovacuum_enabled'), 'true') <> 'false' AS table_autovacuum_enabled
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE n.nspname = $1 AND c.relkind = 'r'
     ORDER BY c.relname`,
    [schema],
  );
  return rows;
}

export interface WorkerMissingQueuesRow {
  id: string;
  hostname: string;
  pid: number;
  /** Queues the worker registered for that are not in the queue registry. */
  missing: string[];
}

/** Registered workers that name queues which do not exist (waiting for them, or started before the check). */
export async function doctorWorkersMissingQueues(
  db: Executor,
  schema: string,
): Promise<WorkerMissingQueuesRow[]> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<WorkerMissingQueuesRow>(
    `SELECT w.id, w.hostname, w.pid, m.missing
     FROM ${s}._workers w
     CROSS JOIN LATERAL (
       SELECT ARRAY(SELECT q FROM unnest(w.queues) AS q
                    WHERE NOT EXISTS (SELECT 1 FROM ${s}._queues x WHERE x.name = q) ORDER BY q) AS missing
     ) m
     WHERE cardinality(m.missing) > 0
     ORDER BY w.id`,
  );
  return rows;
}
