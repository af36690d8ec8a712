import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

/** A queue the poll found due (see _queue_poll, migration 0010). */
export interface DueQueue {
  queue: string;
  /** In how many ms its bound comes, by the database's clock (<= 0: now). */
  dueMs: number;
  /** A wake (an insert or update since its last settle) is what made it due. */
  woken: boolean;
}

/**
 * A worker's poll, one statement for all its queues: settles `settle` (recomputes their bound of the next
 * claimable job), then returns those of `queues` due within `horizonMs`.
 */
export async function queuePoll(
  db: Executor,
  schema: string,
  queues: readonly string[],
  settle: readonly string[],
  horizonMs: number,
): Promise<DueQueue[]> {
  const { rows } = await db.query<{ queue: string; due_ms: number; woken: boolean }>(
    `SELECT queue, due_ms, woken FROM ${quoteIdent(schema)}._queue_poll($1::text[], $2::text[], $3::float8)`,
    [[...queues], [...settle], horizonMs],
    `arb:${schema}:queue-poll`,
  );
  return rows.map((r) => ({ queue: r.queue, dueMs: Number(r.due_ms), woken: r.woken }));
}

/** Queues never settled that one maintenance round settles at most. */
const MAINTENANCE_SETTLE = 32;

/** Which queues the maintenance leader has work in (see Maintenance.runTasks), in one statement. */
export interface MaintenanceCandidates {
  /** Queues whose bound has come: the only ones that can hold expired leases or exhausted jobs. */
  due: Set<string>;
  /** Queues with rows that retention may prune (history or dead letters by the statistics, reports). */
  stored: Set<string>;
  /** Queues with live enqueue-control keys. */
  keyed: Set<string>;
}

export async function maintenanceCandidates(db: Executor, schema: string): Promise<MaintenanceCandidates> {
  const s = quoteIdent(schema);
  // Queues never settled since they were created or migrated ('-infinity') may be due or not: settle a
  // batch of them first (whether or not a worker serves them), and leave the others for later rounds.
  await db.query(
    `SELECT count(${s}._queue_settle(d.queue)) FROM (
       SELECT d.queue FROM ${s}._queue_due d WHERE d.due_at = '-infinity' LIMIT $1) d`,
    [MAINTENANCE_SETTLE],
  );
  const { rows } = await db.query<{ kind: string; queue: string }>(
    `SELECT 'due' AS kind, d.queue FROM ${s}._queue_due d WHERE d.due_at <= now() AND d.due_at > '-infinity'
     UNION ALL
     SELECT 'stored', q.name FROM ${s}._queues q
     WHERE EXISTS (SELECT 1 FROM pg_stat_user_tables t WHERE t.schemaname = $1
                     AND t.relname IN (q.name || '_history', q.name || '_dlq') AND t.n_live_tup > 0)
        OR EXISTS (SELECT 1 FROM ${s}._job_progress p WHERE p.queue = q.name)
        OR EXISTS (SELECT 1 FROM ${s}._job_final_reports f WHERE f.queue = q.name)
        OR EXISTS (SELECT 1 FROM ${s}._job_attempts a WHERE a.queue = q.name)
     UNION ALL
     SELECT DISTINCT 'keyed', k.queue FROM ${s}._enqueue_keys k WHERE k.expires_at IS NULL`,
    [schema],
  );
  const out: MaintenanceCandidates = { due: new Set(), stored: new Set(), keyed: new Set() };
  for (const r of rows) out[r.kind as keyof MaintenanceCandidates].add(r.queue);
  return out;
}

/**
 * Which of `queues` are quiet: settled to 'infinity' with no wake since, so none of their jobs is or will
 * become claimable (they may hold suspended jobs and dead letters). One index scan of the summary.
 */
export async function quietQueues(
  db: Executor,
  schema: string,
  queues: readonly string[],
): Promise<Set<string>> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<{ queue: string }>(
    `SELECT d.queue FROM ${s}._queue_due d
     WHERE d.due_at = 'infinity' AND d.queue = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM ${s}._queue_wakes w WHERE w.queue = d.queue)`,
    [[...queues]],
  );
  return new Set(rows.map((r) => r.queue));
}
