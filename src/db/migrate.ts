import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateSchemaName } from '../core/identifiers.js';
import { SchemaNotMigratedError, SchemaTooNewError } from '../errors.js';
import type { Executor } from './executor.js';
import { quoteIdent } from './sql.js';

export interface Migration {
  version: number;
  name: string;
  /** SQL with the schema placeholder still in place. */
  template: string;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../../sql/migrations/', import.meta.url));
const FILE_RULE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

let cached: Migration[] | undefined;

/** The numbered migrations shipped with this version, in order. */
export function loadMigrations(): Migration[] {
  cached ??= readdirSync(MIGRATIONS_DIR)
    .filter((f) => FILE_RULE.test(f))
    .sort()
    .map((file) => {
      const [, version, name] = FILE_RULE.exec(file)!;
      return { version: Number(version), name: name!, template: readFileSync(MIGRATIONS_DIR + file, 'utf8') };
    });
  return cached;
}

export function renderMigration(migration: Migration, schema: string): string {
  validateSchemaName(schema);
  return migration.template.replaceAll('{{schema}}', schema);
}

export interface MigrateResult {
  applied: number[];
  current: number;
}

/** The lock every migration runs under, per schema. */
const lockKey = (schema: string): string => `arbiter:migrate:${schema}`;

/** The bookkeeping each migration's transaction starts with: the schema and its migrations table. */
function bookkeepingSql(s: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}._migrations (
       version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

/**
 * Brings `schema` up to the latest migration. Each migration runs in its own transaction under an
 * advisory lock and is recorded in `<schema>._migrations`, so running twice, or from several processes
 * at once, applies each migration exactly once.
 */
export async function migrate(db: Executor, schema: string, o: MigrateOptions = {}): Promise<MigrateResult> {
  validateSchemaName(schema);
  const migrations = loadMigrations();
  const latest = migrations.at(-1)?.version ?? 0;
  const s = quoteIdent(schema);
  const applied: number[] = [];
  for (const migration of migrations) {
    const step = perQueueStep(migration);
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey(schema)]);
      for (const statement of bookkeepingSql(s)) await tx.query(statement);
      const { rows } = await tx.query<{ max: number | null }>(
        `SELECT max(version) AS max FROM ${s}._migrations`,
      );
      const current = rows[0]?.max ?? 0;
      if (current > latest) throw new SchemaTooNewError(schema, current, latest);
      if (current >= migration.version) return false;
      // A per-queue migration whose schema-wide part committed before an interruption: go on with the queues.
      if (step && (await stepStarted(tx, schema, step))) return true;
      await tx.query(renderMigration(migration, schema));
      if (step) return true;
      await tx.query(`INSERT INTO ${s}._migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (!done) continue;
    // With a per-queue step, whoever records the migration (after the last batch) applied it.
    if (step && !(await runPerQueue(db, schema, migration, step, o))) continue;
    applied.push(migration.version);
  }
  return { applied, current: latest };
}

/** Queues one transaction of a per-queue migration step upgrades. */
export const QUEUES_PER_MIGRATION_TRANSACTION = 50;

export interface MigrateOptions {
  /** Called after each transaction of a per-queue step (tests interrupt migrations with it). */
  onQueueBatch?: (progress: { version: number; upgraded: number }) => void;
  /** Queues per transaction of a per-queue step. Default QUEUES_PER_MIGRATION_TRANSACTION. */
  queuesPerTransaction?: number;
}

/**
 * A migration that changes every queue's objects defines `_upgrade_queue_NNNN(q text)` (idempotent) and
 * a progress table `_upgraded_NNNN (queue text PRIMARY KEY)`, and does not loop over the queues itself:
 * `migrate` runs the function for every queue in batches, each batch its own transaction recording what
 * it did, then drops both and records the migration. Interrupted, it resumes with the queues not done.
 * Queues created meanwhile get the new objects from `_create_queue`, and the upgrade is idempotent.
 */
function perQueueStep(migration: Migration): { fn: string; table: string } | null {
  const n = String(migration.version).padStart(4, '0');
  const fn = `_upgrade_queue_${n}`;
  return migration.template.includes(`"{{schema}}".${fn}(`) ? { fn, table: `_upgraded_${n}` } : null;
}

/**
 * Whether the step's progress table exists: read from pg_class with the statement's snapshot (to_regclass
 * may answer from a cache that has not yet heard of another process's DROP under the same lock).
 */
async function stepStarted(tx: Executor, schema: string, step: { table: string }): Promise<boolean> {
  const { rows } = await tx.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = $2) AS ok`,
    [schema, step.table],
  );
  return rows[0]?.ok === true;
}

async function runPerQueue(
  db: Executor,
  schema: string,
  migration: Migration,
  step: { fn: string; table: string },
  o: MigrateOptions,
): Promise<boolean> {
  const s = quoteIdent(schema);
  const per = Math.max(1, o.queuesPerTransaction ?? QUEUES_PER_MIGRATION_TRANSACTION);
  let upgraded = 0;
  for (;;) {
    const finished = await db.transaction(async (tx): Promise<'recorded' | 'elsewhere' | false> => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey(schema)]);
      // Another process may have finished the step meanwhile.
      if (!(await stepStarted(tx, schema, step))) return 'elsewhere';
      const { rows } = await tx.query<{ name: string }>(
        `SELECT q.name FROM ${s}._queues q
         WHERE NOT EXISTS (SELECT 1 FROM ${s}.${quoteIdent(step.table)} u WHERE u.queue = q.name)
         ORDER BY q.name LIMIT $1`,
        [per],
      );
      for (const r of rows) {
        await tx.query(`SELECT ${s}.${quoteIdent(step.fn)}($1)`, [r.name]);
        await tx.query(`INSERT INTO ${s}.${quoteIdent(step.table)} (queue) VALUES ($1)`, [r.name]);
      }
      if (rows.length > 0) {
        upgraded += rows.length;
        return false;
      }
      await tx.query(`DROP FUNCTION ${s}.${quoteIdent(step.fn)}(text)`);
      await tx.query(`DROP TABLE ${s}.${quoteIdent(step.table)}`);
      await tx.query(`INSERT INTO ${s}._migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      return 'recorded';
    });
    if (finished) return finished === 'recorded';
    o.onQueueBatch?.({ version: migration.version, upgraded });
  }
}

/**
 * The SQL `migrate` would run on a schema at `fromVersion` (for dry runs), as a script that applies as
 * printed (psql -f, or any client that sends several statements): per migration, one transaction with
 * the same lock, bookkeeping and record as `migrate`. Empty when nothing is pending. The version and name
 * written as literals come from the migration file names (digits; [a-z0-9_]), never from input.
 */
export function pendingMigrationSql(schema: string, fromVersion: number): string {
  validateSchemaName(schema);
  const s = quoteIdent(schema);
  const pending = loadMigrations().filter((m) => m.version > fromVersion);
  if (pending.length === 0) return '';
  const label = (m: Migration) => `${String(m.version).padStart(4, '0')}_${m.name}`;
  const header = [
    `-- Arbiter migrations for schema "${schema}", as \`arbiter migrate\` applies them: each in its own`,
    `-- transaction, under the same advisory lock, recorded in ${s}._migrations.`,
    `-- Pending: ${pending.map(label).join(', ')}.`,
  ];
  // A per-queue step runs here in the migration's own transaction (migrate batches it).
  const perQueue = (m: Migration): string[] => {
    const step = perQueueStep(m);
    if (!step) return [];
    return [
      `SELECT ${s}.${quoteIdent(step.fn)}(name) FROM ${s}._queues ORDER BY name;`,
      `DROP FUNCTION ${s}.${quoteIdent(step.fn)}(text);`,
      `DROP TABLE ${s}.${quoteIdent(step.table)};`,
    ];
  };
  const blocks = pending.map((m) =>
    [
      `-- ${label(m)}`,
      'BEGIN;',
      `SELECT pg_advisory_xact_lock(hashtextextended('${lockKey(schema)}', 0));`,
      ...bookkeepingSql(s).map((statement) => `${statement};`),
      renderMigration(m, schema).trimEnd(),
      ...perQueue(m),
      `INSERT INTO ${s}._migrations (version, name) VALUES (${m.version}, '${m.name}');`,
      'COMMIT;',
    ].join('\n'),
  );
  return [...header, '', blocks.join('\n\n'), ''].join('\n');
}

export async function currentVersion(db: Executor, schema: string): Promise<number> {
  return (await schemaStatus(db, schema)).version;
}

/**
 * Where a schema stands against this version's migrations: `missing` (no such PostgreSQL schema),
 * `not-migrated` (no migration recorded), `behind`, `current`, or `too-new` (migrated by a newer Arbiter).
 */
export type SchemaState = 'missing' | 'not-migrated' | 'behind' | 'current' | 'too-new';

export interface SchemaStatus {
  state: SchemaState;
  /** The latest migration applied (0 when none). */
  version: number;
  /** The latest migration this version ships. */
  expected: number;
}

/**
 * Reads the schema's migration record without ever failing on a missing one: the objects are looked up
 * first, so the check is safe inside a caller's transaction (a failed statement would abort it).
 */
export async function schemaStatus(db: Executor, schema: string): Promise<SchemaStatus> {
  validateSchemaName(schema);
  const expected = loadMigrations().at(-1)?.version ?? 0;
  const { rows } = await db.query<{ schema_exists: boolean; table_exists: boolean }>(
    `SELECT to_regnamespace($1) IS NOT NULL AS schema_exists, to_regclass($2) IS NOT NULL AS table_exists`,
    [quoteIdent(schema), `${quoteIdent(schema)}._migrations`],
  );
  if (!rows[0]?.schema_exists) return { state: 'missing', version: 0, expected };
  if (!rows[0].table_exists) return { state: 'not-migrated', version: 0, expected };
  const res = await db.query<{ max: number | null }>(
    `SELECT max(version) AS max FROM ${quoteIdent(schema)}._migrations`,
  );
  const version = res.rows[0]?.max ?? 0;
  const state: SchemaState =
    version === 0
      ? 'not-migrated'
      : version < expected
        ? 'behind'
        : version > expected
          ? 'too-new'
          : 'current';
  return { state, version, expected };
}

/** The typed error for a schema this version cannot use, or null when it is current. */
export function schemaStatusError(
  schema: string,
  status: SchemaStatus,
): SchemaNotMigratedError | SchemaTooNewError | null {
  switch (status.state) {
    case 'current':
      return null;
    case 'too-new':
      return new SchemaTooNewError(schema, status.version, status.expected);
    default:
      return new SchemaNotMigratedError(schema, status.state, status.version, status.expected);
  }
}
