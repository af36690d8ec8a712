import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

/** A schedule's stored definition (one `_cron` row). */
export interface CronRow {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  payload: unknown;
  overlap: 'skip' | 'allow';
  missed: 'skip' | 'once' | 'catch-up';
  catch_up_max: number;
  paused: boolean;
  source: 'code' | 'runtime';
  overridden: boolean;
  last_tick: Date | null;
  last_job_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const ROW_COLUMNS = `name, queue, pattern, tz, payload, overlap, missed, catch_up_max, paused, source, overridden,
  last_tick, last_job_id::text AS last_job_id, created_at, updated_at`;

/** A definition as written by code or at runtime (payload: JSON text, or null for a function). */
export interface CronDefinition {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  payload: string | null;
  overlap: 'skip' | 'allow';
  missed: 'skip' | 'once' | 'catch-up';
  catchUpMax: number;
}

/**
 * Registers a code schedule (a worker's `cron` option). A new schedule starts at `initialTick` (the tick
 * before now), so it fires at the next tick rather than for the past. An existing row is rewritten only
 * when it is a code schedule not changed at runtime (`overridden`) whose definition in code changed
 * (`codeHash`): a deploy that did not touch a schedule leaves runtime changes alone, and a pause always
 * survives. A runtime schedule of the same name is left as it is.
 */
export async function cronUpsert(
  db: Executor,
  schema: string,
  c: CronDefinition & { initialTick: Date; codeHash: string },
): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}._cron
       (name, queue, pattern, tz, last_tick, payload, overlap, missed, catch_up_max, source, code_hash)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, 'code', $10)
     ON CONFLICT (name) DO UPDATE SET queue = EXCLUDED.queue, pattern = EXCLUDED.pattern, tz = EXCLUDED.tz,
       payload = EXCLUDED.payload, overlap = EXCLUDED.overlap, missed = EXCLUDED.missed,
       catch_up_max = EXCLUDED.catch_up_max, code_hash = EXCLUDED.code_hash, updated_at = now()
     WHERE _cron.source = 'code' AND NOT _cron.overridden AND _cron.code_hash IS DISTINCT FROM EXCLUDED.code_hash`,
    [
      c.name,
      c.queue,
      c.pattern,
      c.tz,
      c.initialTick,
      c.payload,
      c.overlap,
      c.missed,
      c.catchUpMax,
      c.codeHash,
    ],
  );
}

/** Every schedule (or those named), by name. */
export async function cronRows(db: Executor, schema: string, names?: readonly string[]): Promise<CronRow[]> {
  const { rows } = await db.query<CronRow>(
    `SELECT ${ROW_COLUMNS} FROM ${quoteIdent(schema)}._cron
     ${names ? 'WHERE name = ANY($1::text[])' : ''} ORDER BY name`,
    names ? [[...names]] : [],
  );
  return rows;
}

/** Adds a runtime schedule; null when the name is taken. */
export async function cronInsert(
  tx: Executor,
  schema: string,
  c: CronDefinition & { initialTick: Date; paused: boolean },
): Promise<CronRow | null> {
  const { rows } = await tx.query<CronRow>(
    `INSERT INTO ${quoteIdent(schema)}._cron
       (name, queue, pattern, tz, last_tick, payload, overlap, missed, catch_up_max, paused, source)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, 'runtime')
     ON CONFLICT (name) DO NOTHING RETURNING ${ROW_COLUMNS}`,
    [c.name, c.queue, c.pattern, c.tz, c.initialTick, c.payload, c.overlap, c.missed, c.catchUpMax, c.paused],
  );
  return rows[0] ?? null;
}

/**
 * Changes a schedule at runtime. A code schedule becomes `overridden` (deploys leave it alone from now on).
 * With `initialTick` (the expression or time zone changed), the schedule restarts from it, as a new one.
 */
export async function cronUpdate(
  tx: Executor,
  schema: string,
  c: CronDefinition & { initialTick: Date | null },
): Promise<CronRow | null> {
  const { rows } = await tx.query<CronRow>(
    `UPDATE ${quoteIdent(schema)}._cron SET queue = $2, pattern = $3, tz = $4, payload = $5::jsonb,
       overlap = $6, missed = $7, catch_up_max = $8, last_tick = coalesce($9, last_tick),
       overridden = (source = 'code'), updated_at = now()
     WHERE name = $1 RETURNING ${ROW_COLUMNS}`,
    [c.name, c.queue, c.pattern, c.tz, c.payload, c.overlap, c.missed, c.catchUpMax, c.initialTick],
  );
  return rows[0] ?? null;
}

/**
 * Pauses or resumes a schedule. Resuming moves the last tick to now: the ticks of the pause never fire
 * (whatever the missed-tick policy, which is about downtime).
 */
export async function cronSetPaused(
  tx: Executor,
  schema: string,
  name: string,
  paused: boolean,
): Promise<CronRow | null> {
  const { rows } = await tx.query<CronRow>(
    `UPDATE ${quoteIdent(schema)}._cron SET paused = $2, updated_at = now(),
       last_tick = CASE WHEN paused AND NOT $2 THEN greatest(last_tick, now()) ELSE last_tick END
     WHERE name = $1 RETURNING ${ROW_COLUMNS}`,
    [name, paused],
  );
  return rows[0] ?? null;
}

/** Removes a schedule; false when there was none. */
export async function cronDelete(tx: Executor, schema: string, name: string): Promise<boolean> {
  const { rowCount } = await tx.query(`DELETE FROM ${quoteIdent(schema)}._cron WHERE name = $1`, [name]);
  return (rowCount ?? 0) > 0;
}

/** The notice a runtime change sends (at commit) so workers re-read the schedules at once. */
export const CRON_NOTICE = '!cron';

/**
 * Takes `tick` for a schedule: succeeds for exactly one caller per tick however many workers race, and
 * returns the job id fired for the previous tick (for the overlap policy). A paused schedule gives none. Run inside the transaction
 * that enqueues the tick's job, so a failed enqueue gives the tick back.
 */
export async function cronTakeTick(
  tx: Executor,
  schema: string,
  name: string,
  tick: Date,
): Promise<{ taken: boolean; lastJobId: string | null }> {
  const { rows } = await tx.query<{ last_job_id: string | null }>(
    `UPDATE ${quoteIdent(schema)}._cron SET last_tick = $2
     WHERE name = $1 AND (last_tick IS NULL OR last_tick < $2) AND NOT paused
     RETURNING last_job_id::text AS last_job_id`,
    [name, tick],
  );
  const row = rows[0];
  return row ? { taken: true, lastJobId: row.last_job_id } : { taken: false, lastJobId: null };
}

/** The last tick fired per schedule name. */
export async function cronLastTicks(
  db: Executor,
  schema: string,
  names: readonly string[],
): Promise<Map<string, Date | null>> {
  const { rows } = await db.query<{ name: string; last_tick: Date | null }>(
    `SELECT name, last_tick FROM ${quoteIdent(schema)}._cron WHERE name = ANY($1::text[])`,
    [[...names]],
  );
  return new Map(rows.map((r) => [r.name, r.last_tick]));
}

export async function cronSetLastJob(
  tx: Executor,
  schema: string,
  name: string,
  jobId: string | null,
): Promise<void> {
  await tx.query(`UPDATE ${quoteIdent(schema)}._cron SET last_job_id = $2 WHERE name = $1`, [name, jobId]);
}

/** Whether a job id is still in a queue's table (pending, scheduled, running or retrying). */
export async function cronJobAlive(tx: Executor, jobsTable: string, jobId: string): Promise<boolean> {
  const { rows } = await tx.query(`SELECT 1 FROM ${jobsTable} WHERE id = $1`, [jobId]);
  return rows.length > 0;
}

/** Database time: the only clock used for cron ticks. */
export async function dbNow(db: Executor): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}
