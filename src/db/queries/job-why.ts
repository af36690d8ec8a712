import type { Executor } from '../executor.js';
import { dlqColumns, jobSelect, type DeadJobRow, type JobRow } from '../rows.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// What "why isn't this job running?" needs to know besides the job, read in one statement at one
// database time: whether its queue is paused, how many live workers serve the queue, how many children
// it still has, and how long ago the worker holding it last sent a heartbeat.

export interface JobWhyRow {
  now: Date;
  /** Null when the queue no longer exists. */
  queue_paused: boolean | null;
  live_workers: number;
  /** Children still in the queue, counted up to the cap given. */
  children: number;
  /** Milliseconds since the holding worker's last heartbeat; null when it is not registered. */
  holder_silent_ms: number | null;
  job: JobRow | null;
}

/** The job (with its status) and the facts around it; `job` is null when it is not in the queue. */
export async function jobWhyFacts(
  db: Executor,
  t: QueueTables,
  id: string,
  liveWindowMs: number,
  childCap: number,
): Promise<JobWhyRow> {
  const workers = `${quoteIdent(t.schema)}._workers`;
  const { rows } = await db.query<JobRow & Omit<JobWhyRow, 'job'> & { found: boolean }>(
    `SELECT now() AS now,
       (SELECT q.paused FROM ${t.registry} q WHERE q.name = $2) AS queue_paused,
       (SELECT count(*)::int FROM ${workers} w
         WHERE w.last_heartbeat > now() - $3::bigint * interval '1 millisecond' AND $2 = ANY (w.queues)) AS live_workers,
       (SELECT count(*)::int FROM (SELECT 1 FROM ${t.jobs} c WHERE c.parent_id = $1::bigint LIMIT $4::int) c)
         AS children,
       (SELECT (extract(epoch FROM now() - w.last_heartbeat) * 1000)::float8 FROM ${workers} w
         WHERE w.id = x.worker_id) AS holder_silent_ms,
       x.id IS NOT NULL AS found, x.*
     FROM (VALUES (1)) v LEFT JOIN LATERAL (SELECT ${jobSelect(t, 'j')} FROM ${t.jobs} j WHERE j.id = $1::bigint) x
       ON true`,
    [id, t.queue, liveWindowMs, childCap],
  );
  const r = rows[0]!;
  const { now, queue_paused, live_workers, children, holder_silent_ms, found, ...job } = r;
  return {
    now,
    queue_paused,
    live_workers,
    children,
    holder_silent_ms,
    job: found ? (job as JobRow) : null,
  };
}

/** The most recent dead letter made from job `jobId` (its id in the queue), or null. */
export async function dlqGetByJobId(db: Executor, t: QueueTables, jobId: string): Promise<DeadJobRow | null> {
  const { rows } = await db.query<DeadJobRow>(
    `SELECT ${dlqColumns('d')} FROM ${t.dlq} d WHERE d.job_id = $1::bigint ORDER BY d.id DESC LIMIT 1`,
    [jobId],
  );
  return rows[0] ?? null;
}
