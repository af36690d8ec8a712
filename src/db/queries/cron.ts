import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

/**
 * Registers a schedule. A new schedule starts at `initialTick` (the tick before now), so it fires at the
 * next tick rather than for the past; an existing one keeps its last fired tick.
 */
export async function cronUpsert(
  db: Executor,
  schema: string,
  c: { name: string; queue: string; pattern: string; tz: string; initialTick: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}._cron (name, queue, pattern, tz, last_tick) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) DO UPDATE SET queue = EXCLUDED.queue, pattern = EXCLUDED.pattern, tz = EXCLUDED.tz,
       updated_at = now()
     WHERE (_cron.queue, _cron.pattern, _cron.tz) IS DISTINCT FROM (EXCLUDED.queue, EXCLUDED.pattern, EXCLUDED.tz)`,
    [c.name, c.queue, c.pattern, c.tz, c.initialTick],
  );
}

/**
 * Takes `tick` for a schedule: succeeds for exactly one caller per tick however many workers race, and
 * returns the job id fired for the previous tick (for the overlap policy). Run inside the transaction
 * that enqueues the tick's job, so a failed enqueue gives the tick back.
 */
export async function cronTakeTick(
  tx: Executor,
  schema: string,
  name: string,
  tick: Date,
): Promise<{ taken: boolean; lastJobId: string | null }> {
  const { rows } = await tx.query<{ last_job_id: string | null }>(
    `UPDATE ${quoteIdent(schema)}._cron SET last_tick = $2, updated_at = now()
     WHERE name = $1 AND (last_tick IS NULL OR last_tick < $2)
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
