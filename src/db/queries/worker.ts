import type { Executor } from '../executor.js';
import type { WorkerSnapshot } from '../../worker/snapshot.js';
import { queueTables, quoteIdent } from '../sql.js';

export interface WorkerRegistration {
  id: string;
  queues: readonly string[];
  hostname: string;
  pid: number;
  /** What the worker runs now (WorkerSnapshot), as JSON. */
  info?: unknown;
}

/** Registers (or re-registers) a worker; its heartbeat starts now. */
export async function workerRegister(db: Executor, schema: string, w: WorkerRegistration): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}._workers (id, queues, hostname, pid, info)
     VALUES ($1, $2::text[], $3, $4, $5::jsonb)
     ON CONFLICT (id) DO UPDATE SET queues = EXCLUDED.queues, info = EXCLUDED.info, last_heartbeat = now()`,
    [w.id, [...w.queues], w.hostname, w.pid, JSON.stringify(w.info ?? null)],
  );
}

/**
 * Records a heartbeat. `alive` is false when the row is gone (another worker presumed this one dead);
 * `dbNow` is the database clock, for skew checks.
 */
export async function workerHeartbeat(
  db: Executor,
  schema: string,
  id: string,
  info: unknown = null,
): Promise<{ alive: boolean; dbNow: Date }> {
  const { rows } = await db.query<{ alive: boolean; now: Date }>(
    `WITH u AS (UPDATE ${quoteIdent(schema)}._workers SET last_heartbeat = now(), info = $2::jsonb
                 WHERE id = $1 RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM u) AS alive, now() AS now`,
    [id, JSON.stringify(info)],
  );
  return { alive: rows[0]!.alive, dbNow: rows[0]!.now };
}

export async function workerUnregister(db: Executor, schema: string, id: string): Promise<void> {
  await db.query(`DELETE FROM ${quoteIdent(schema)}._workers WHERE id = $1`, [id]);
}

/** One registered worker process: the queues it serves, where it runs, when it started, its last heartbeat. */
export interface WorkerInfo {
  id: string;
  queues: string[];
  hostname: string;
  pid: number;
  startedAt: Date;
  lastHeartbeat: Date;
  /**
   * What it ran at its last heartbeat: concurrency, per queue its limits and running jobs, a bounded list
   * of the running jobs. Null for a worker of an older version.
   */
  info: WorkerSnapshot | null;
}

export async function workerList(db: Executor, schema: string): Promise<WorkerInfo[]> {
  const { rows } = await db.query<{
    id: string;
    queues: string[];
    hostname: string;
    pid: number;
    started_at: Date;
    last_heartbeat: Date;
    info: WorkerSnapshot | null;
  }>(
    `SELECT id, queues, hostname, pid, started_at, last_heartbeat, info FROM ${quoteIdent(schema)}._workers ORDER BY id`,
  );
  return rows.map((r) => ({
    id: r.id,
    queues: r.queues,
    hostname: r.hostname,
    pid: r.pid,
    startedAt: r.started_at,
    lastHeartbeat: r.last_heartbeat,
    info: r.info,
  }));
}

export interface ReleasedJobs {
  workers: string[];
  /** Jobs released, per queue. */
  jobs: Map<string, number>;
}

/**
 * Presumes workers silent for longer than `thresholdMs` dead: deletes their rows and, in the
 * same transaction, ends the leases they held so the jobs are claimable at once instead of after their
 * full lease. The lease is expired, not cleared: attempts stay as they are, a job on its final attempt is
 * left for the exhausted-job reaper (dead-letter, "worker lost"), and the next claim fences off any late
 * write from the presumed-dead worker.
 */
export async function workerReleaseDead(
  db: Executor,
  schema: string,
  thresholdMs: number,
): Promise<ReleasedJobs> {
  const s = quoteIdent(schema);
  return db.transaction(async (tx) => {
    const dead = await tx.query<{ id: string; queues: string[] }>(
      `DELETE FROM ${s}._workers WHERE last_heartbeat < now() - $1::bigint * interval '1 millisecond'
       RETURNING id, queues`,
      [thresholdMs],
    );
    const jobs = new Map<string, number>();
    if (dead.rows.length === 0) return { workers: [], jobs };
    const ids = dead.rows.map((r) => r.id).sort();
    const queues = [...new Set(dead.rows.flatMap((r) => r.queues))].sort();
    const existing = await tx.query<{ name: string }>(
      `SELECT name FROM ${s}._queues WHERE name = ANY($1::text[])`,
      [queues],
    );
    for (const { name } of existing.rows) {
      const t = queueTables(schema, name);
      const res = await tx.query(
        `UPDATE ${t.jobs} j SET leased_until = now(), run_at = now(), updated_at = now(),
           last_error = 'worker lost: ' || j.worker_id || ' stopped heartbeating'
         WHERE j.worker_id = ANY($1::text[]) AND j.leased_until > now()`,
        [ids],
      );
      if (res.rowCount > 0) jobs.set(name, res.rowCount);
    }
    return { workers: ids, jobs };
  });
}

/** Per queue name: the workers serving it whose last heartbeat is younger than `windowMs`. */
export async function workerLiveCounts(
  db: Executor,
  schema: string,
  windowMs: number,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ queue: string; n: number }>(
    `SELECT q.queue, count(*)::int AS n
     FROM ${quoteIdent(schema)}._workers w CROSS JOIN LATERAL unnest(w.queues) AS q(queue)
     WHERE w.last_heartbeat > now() - $1::bigint * interval '1 millisecond'
     GROUP BY q.queue`,
    [windowMs],
  );
  return new Map(rows.map((r) => [r.queue, r.n]));
}

/** Milliseconds since a worker's last heartbeat, or null when it is not registered. */
export async function workerSilentMs(db: Executor, schema: string, id: string): Promise<number | null> {
  const { rows } = await db.query<{ ms: number }>(
    `SELECT (extract(epoch FROM now() - last_heartbeat) * 1000)::float8 AS ms
     FROM ${quoteIdent(schema)}._workers WHERE id = $1`,
    [id],
  );
  return rows[0]?.ms ?? null;
}
