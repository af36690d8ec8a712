import { randomBytes } from 'node:crypto';
import { validateSchemaName } from '../core/identifiers.js';
import type { Executor } from '../db/executor.js';
import { schemaStatus, type SchemaState } from '../db/migrate.js';
import {
  doctorGroupDrift,
  doctorProbeQueue,
  doctorQueueObjects,
  doctorTableHealth,
  doctorWorkersMissingQueues,
  type QueueBlueprint,
} from '../db/queries/doctor.js';
import { queueTables, quoteIdent } from '../db/sql.js';

/**
 * Fallback when the probe cannot run (e.g. a read-only role): what `_create_queue` created as of
 * migration 2 (0001_init.sql: tables and group triggers; 0002_workers.sql: notify triggers).
 */
const FALLBACK_BLUEPRINT: QueueBlueprint = {
  tables: ['', '_dlq', '_groups', '_results'],
  triggers: ['_group_del', '_group_ins', '_group_lock', '_group_upd', '_notify_ins', '_notify_upd'],
};

class Rollback extends Error {
  constructor(readonly blueprint: QueueBlueprint) {
    super('rollback');
  }
}

/**
 * What `_create_queue` creates in this schema now: a probe queue is created inside a transaction that is
 * always rolled back, and its tables and triggers are read back. Comparing against this (not a list kept
 * in TypeScript) keeps doctor right as migrations change the queue layout.
 */
async function queueBlueprint(db: Executor, schema: string): Promise<QueueBlueprint | null> {
  const probe = `doctor_probe_${randomBytes(6).toString('hex')}`;
  try {
    await db.transaction(async (tx) => {
      throw new Rollback(await doctorProbeQueue(tx, schema, probe));
    });
  } catch (err) {
    if (err instanceof Rollback) return err.blueprint;
  }
  return null;
}

/** Dead tuples become a problem past this many (and past 20% of live rows) without a recent autovacuum. */
const DEAD_TUPLES_PROBLEM = 10_000;
const AUTOVACUUM_STALE_MS = 3600_000;

export type DoctorCheck = 'schema' | 'tables' | 'triggers' | 'groups' | 'health' | 'workers';

export interface DoctorFinding {
  /** `problem` fails the check (exit code 1 in the CLI); `warning` is worth a look. */
  severity: 'problem' | 'warning';
  check: DoctorCheck;
  queue?: string;
  table?: string;
  message: string;
  /** What to do about it. */
  fix: string;
}

export interface QueueDiagnosis {
  name: string;
  missingTables: string[];
  missingTriggers: string[];
  disabledTriggers: string[];
  /** Rows in the groups table; null when the tables needed to count are missing. */
  groups: number | null;
  /** Groups whose row disagrees with their jobs (see doctorGroupDrift); null when not checked. */
  driftedGroups: number | null;
}

export interface TableHealth {
  table: string;
  liveTuples: number | null;
  deadTuples: number | null;
  lastVacuum: Date | null;
  lastAutovacuum: Date | null;
  lastAnalyze: Date | null;
  lastAutoanalyze: Date | null;
  /** age(relfrozenxid): transactions since the table was last frozen. */
  xidAge: number;
  autovacuumEnabled: boolean;
}

export interface DoctorReport {
  schema: string;
  /**
   * The schema against this version's migrations: `missing`, `not-migrated`, `behind`, `current` or
   * `too-new` (the conditions Arbiter calls and worker start reject with a typed error).
   */
  schemaState: SchemaState;
  /** Migration version found (0: not migrated). */
  schemaVersion: number;
  /** Latest migration this version of Arbiter ships. */
  expectedVersion: number;
  queues: QueueDiagnosis[];
  tables: TableHealth[];
  findings: DoctorFinding[];
  /** No finding of severity `problem`. */
  ok: boolean;
}

/**
 * Checks a schema for drift and decay: migration version, each queue's tables and triggers, the groups
 * table's counts against the jobs (a full scan per queue), and vacuum health. Read-only.
 */
export async function diagnose(db: Executor, schema: string): Promise<DoctorReport> {
  validateSchemaName(schema);
  const findings: DoctorFinding[] = [];
  const status = await schemaStatus(db, schema);
  const { version: schemaVersion, expected: expectedVersion } = status;
  const report = (queues: QueueDiagnosis[], tables: TableHealth[]): DoctorReport => ({
    schema,
    schemaState: status.state,
    schemaVersion,
    expectedVersion,
    queues,
    tables,
    findings,
    ok: findings.every((f) => f.severity !== 'problem'),
  });

  const migrateFix = `run \`arbiter migrate --schema ${schema}\` (or call arbiter.migrate())`;
  if (status.state === 'missing' || status.state === 'not-migrated') {
    findings.push({
      severity: 'problem',
      check: 'schema',
      message:
        status.state === 'missing'
          ? `schema "${schema}" does not exist`
          : `schema "${schema}" has no Arbiter migrations applied`,
      fix: migrateFix,
    });
    return report([], []);
  }
  if (status.state === 'behind') {
    findings.push({
      severity: 'problem',
      check: 'schema',
      message: `schema "${schema}" is at migration ${schemaVersion}, expected ${expectedVersion}`,
      fix: `${migrateFix}; preview with \`arbiter migrate --dry-run\``,
    });
  } else if (status.state === 'too-new') {
    findings.push({
      severity: 'problem',
      check: 'schema',
      message: `schema "${schema}" is at migration ${schemaVersion}, newer than this Arbiter (${expectedVersion})`,
      fix: 'upgrade the arbiter package',
    });
  }

  let blueprint = await queueBlueprint(db, schema);
  if (blueprint === null) {
    blueprint = FALLBACK_BLUEPRINT;
    findings.push({
      severity: 'warning',
      check: 'triggers',
      message: 'could not probe _create_queue (read-only role?); compared against the built-in list',
      fix: 'run doctor with a role that may create tables (the probe is always rolled back)',
    });
  }
  const queues: QueueDiagnosis[] = [];
  for (const row of await doctorQueueObjects(db, schema, blueprint.tables)) {
    const missingTables = blueprint.tables.filter((s) => !row.tables.includes(s)).map((s) => row.name + s);
    const expected = blueprint.triggers.map((suffix) => row.name + suffix);
    const missingTriggers = expected.filter((name) => !row.triggers.includes(name));
    const disabledTriggers = row.disabled_triggers.filter((name) => expected.includes(name));
    const q: QueueDiagnosis = {
      name: row.name,
      missingTables,
      missingTriggers,
      disabledTriggers,
      groups: null,
      driftedGroups: null,
    };
    queues.push(q);
    if (missingTables.length > 0) {
      findings.push({
        severity: 'problem',
        check: 'tables',
        queue: row.name,
        message: `queue "${row.name}" is missing tables: ${missingTables.join(', ')}`,
        fix: `the queue is broken; drop and recreate it (\`arbiter queue drop ${row.name} --yes\`, then \`arbiter queue create ${row.name}\`) or restore the tables from a backup`,
      });
      continue;
    }
    const missingNotify = missingTriggers.filter((n) => n.includes('_notify_'));
    const missingGroup = missingTriggers.filter((n) => !n.includes('_notify_'));
    if (missingGroup.length > 0) {
      findings.push({
        severity: 'problem',
        check: 'triggers',
        queue: row.name,
        message: `queue "${row.name}" is missing group triggers: ${missingGroup.join(', ')} (group FIFO and counts are no longer maintained)`,
        fix: `recreate the queue (drop and create it again once drained), then run queue.jobs.refreshGroups()`,
      });
    }
    if (missingNotify.length > 0) {
      findings.push({
        severity: 'problem',
        check: 'triggers',
        queue: row.name,
        message: `queue "${row.name}" is missing notify triggers: ${missingNotify.join(', ')} (workers fall back to polling)`,
        fix: `run SELECT ${quoteIdent(schema)}._create_notify_triggers('${row.name}') (workers also repair this on start)`,
      });
    }
    if (disabledTriggers.length > 0) {
      findings.push({
        severity: 'problem',
        check: 'triggers',
        queue: row.name,
        message: `queue "${row.name}" has disabled triggers: ${disabledTriggers.join(', ')}`,
        fix: `run ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(row.name)} ENABLE TRIGGER ALL, then queue.jobs.refreshGroups()`,
      });
    }
    const drift = await doctorGroupDrift(db, queueTables(schema, row.name));
    q.groups = drift.groups;
    q.driftedGroups = drift.drifted;
    if (drift.drifted > 0) {
      findings.push({
        severity: 'problem',
        check: 'groups',
        queue: row.name,
        message: `queue "${row.name}": ${drift.drifted} group${drift.drifted === 1 ? '' : 's'} whose row disagrees with their jobs`,
        fix: `run \`arbiter doctor --fix\` or call queue('${row.name}').jobs.refreshGroups()`,
      });
    }
  }

  for (const w of await doctorWorkersMissingQueues(db, schema)) {
    findings.push({
      severity: 'warning',
      check: 'workers',
      message: `worker "${w.id}" (${w.hostname}, pid ${w.pid}) is registered for queues that do not exist: ${w.missing.join(', ')} (it claims nothing from them)`,
      fix: `create them (\`arbiter queue create <name>\`) or correct the queue names the worker is given`,
    });
  }

  const now = Date.now();
  const healthRows = await doctorTableHealth(db, schema);
  const freezeMaxAge = Number(healthRows[0]?.freeze_max_age ?? 200_000_000);
  const tables: TableHealth[] = healthRows.map((r) => ({
    table: r.table,
    liveTuples: r.live_tuples === null ? null : Number(r.live_tuples),
    deadTuples: r.dead_tuples === null ? null : Number(r.dead_tuples),
    lastVacuum: r.last_vacuum,
    lastAutovacuum: r.last_autovacuum,
    lastAnalyze: r.last_analyze,
    lastAutoanalyze: r.last_autoanalyze,
    xidAge: Number(r.xid_age),
    autovacuumEnabled: r.autovacuum_on && r.table_autovacuum_enabled,
  }));
  if (healthRows[0] && !healthRows[0].autovacuum_on) {
    findings.push({
      severity: 'warning',
      check: 'health',
      message: 'autovacuum is off on this server',
      fix: 'set autovacuum = on: queue tables churn and need frequent vacuuming',
    });
  }
  for (const h of tables) {
    const table = `${schema}.${h.table}`;
    const dead = h.deadTuples ?? 0;
    const lastVacuum = Math.max(h.lastAutovacuum?.getTime() ?? 0, h.lastVacuum?.getTime() ?? 0);
    if (dead > Math.max(DEAD_TUPLES_PROBLEM, 0.2 * (h.liveTuples ?? 0))) {
      const stale = now - lastVacuum > AUTOVACUUM_STALE_MS;
      findings.push({
        severity: stale ? 'problem' : 'warning',
        check: 'health',
        table,
        message: `${table} has ${dead} dead tuples${stale ? ' and no vacuum in the last hour' : ''}`,
        fix: `run VACUUM (ANALYZE) ${quoteIdent(schema)}.${quoteIdent(h.table)}; look for long-running transactions holding back vacuum (pg_stat_activity.backend_xmin)`,
      });
    }
    if (healthRows[0]?.autovacuum_on && !h.autovacuumEnabled) {
      findings.push({
        severity: 'warning',
        check: 'health',
        table,
        message: `autovacuum is disabled for ${table}`,
        fix: `run ALTER TABLE ${quoteIdent(schema)}.${quoteIdent(h.table)} RESET (autovacuum_enabled)`,
      });
    }
    if (h.xidAge > freezeMaxAge) {
      findings.push({
        severity: 'problem',
        check: 'health',
        table,
        message: `${table} is ${h.xidAge} transactions old, past autovacuum_freeze_max_age (${freezeMaxAge})`,
        fix: `run VACUUM (FREEZE) ${quoteIdent(schema)}.${quoteIdent(h.table)} and check why autovacuum cannot keep up`,
      });
    }
  }
  return report(queues, tables);
}
