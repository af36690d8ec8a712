import type { Executor } from '../executor.js';
import { quoteIdent } from '../sql.js';

// Per-queue history of throughput and wait time (migration 0011): one schema-wide row per queue and minute.

/**
 * Upper bounds (ms) of the wait-time histogram's slots: slot i counts waits up to WAIT_BOUNDS_MS[i], the
 * last slot (index WAIT_BOUNDS_MS.length) the longer ones. Changing them changes what stored rows mean.
 */
export const WAIT_BOUNDS_MS: readonly number[] = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
];

/** The histogram slot of a wait of `ms`. */
export function waitSlot(ms: number): number {
  let i = 0;
  while (i < WAIT_BOUNDS_MS.length && ms > WAIT_BOUNDS_MS[i]!) i++;
  return i;
}

/** What one worker adds to one queue's minute. */
export interface StatsDelta {
  queue: string;
  /** The minute (its start). */
  minute: Date;
  completed: number;
  failed: number;
  dead: number;
  /** Counts per slot (WAIT_BOUNDS_MS.length + 1 slots). */
  waitHist: number[];
}

const table = (schema: string): string => `${quoteIdent(schema)}._queue_stats`;

/** Adds many deltas in one statement (rows are taken in key order, so concurrent workers never deadlock). */
export async function queueStatsAdd(
  db: Executor,
  schema: string,
  deltas: readonly StatsDelta[],
): Promise<void> {
  if (deltas.length === 0) return;
  const sorted = [...deltas].sort((a, b) =>
    a.queue === b.queue ? a.minute.getTime() - b.minute.getTime() : a.queue < b.queue ? -1 : 1,
  );
  await db.query(
    `INSERT INTO ${table(schema)} AS s (queue, minute, completed, failed, dead, wait_hist)
     SELECT u.queue, u.minute, u.completed, u.failed, u.dead, u.hist::bigint[]
       FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[])
            WITH ORDINALITY AS u(queue, minute, completed, failed, dead, hist, ord)
      ORDER BY u.ord
     ON CONFLICT (queue, minute) DO UPDATE SET
       completed = s.completed + EXCLUDED.completed,
       failed = s.failed + EXCLUDED.failed,
       dead = s.dead + EXCLUDED.dead,
       wait_hist = ARRAY(
         SELECT coalesce(a, 0) + coalesce(b, 0)
           FROM unnest(s.wait_hist, EXCLUDED.wait_hist) WITH ORDINALITY AS h(a, b, i) ORDER BY h.i)`,
    [
      sorted.map((d) => d.queue),
      sorted.map((d) => d.minute),
      sorted.map((d) => d.completed),
      sorted.map((d) => d.failed),
      sorted.map((d) => d.dead),
      sorted.map((d) => `{${d.waitHist.join(',')}}`),
    ],
  );
}

/**
 * Adds dead letters that no worker counted (the reaper's, stale recovery's) to the current minute (database
 * time) of a queue's history: `dead` of them, `failed` of which were attempts no worker counted either.
 * Meant for the transaction that moved them. No wait is recorded: the wait belongs to a finished run.
 */
export async function queueStatsAddDead(
  db: Executor,
  schema: string,
  queue: string,
  failed: number,
  dead: number,
): Promise<void> {
  await db.query(
    `INSERT INTO ${table(schema)} AS s (queue, minute, failed, dead)
     VALUES ($1, date_trunc('minute', now()), $2, $3)
     ON CONFLICT (queue, minute) DO UPDATE SET failed = s.failed + EXCLUDED.failed, dead = s.dead + EXCLUDED.dead`,
    [queue, failed, dead],
  );
}

/** One bucket of a queue's history (or of every queue's, summed). */
export interface StatsBucket {
  /** Start of the bucket. */
  at: Date;
  completed: number;
  failed: number;
  dead: number;
  /** Slot counts (see WAIT_BOUNDS_MS). */
  waitHist: number[];
}

/**
 * The history of one queue (or, with `queue` null, of every queue summed), in buckets of `bucketMinutes`
 * over the last `minutes`, oldest first; buckets without a row are absent. Reads at most
 * minutes × (queues) rows through the primary key (one queue) or the minute index (every queue).
 */
export async function queueStatsHistory(
  db: Executor,
  schema: string,
  queue: string | null,
  minutes: number,
  bucketMinutes: number,
): Promise<StatsBucket[]> {
  const { rows } = await db.query<{
    at: Date;
    completed: string;
    failed: string;
    dead: string;
    hist: string[];
  }>(
    `WITH r AS (
       SELECT to_timestamp(floor(extract(epoch FROM s.minute) / ($3 * 60)) * ($3 * 60)) AS at, s.*
         FROM ${table(schema)} s
        WHERE ($1::text IS NULL OR s.queue = $1)
          AND s.minute >= date_trunc('minute', now()) - ($2 - 1) * interval '1 minute'
     )
     SELECT r.at, sum(r.completed) AS completed, sum(r.failed) AS failed, sum(r.dead) AS dead,
            (SELECT array_agg(x.n::text ORDER BY x.i) FROM (
               SELECT h.i, sum(h.n) AS n FROM r r2, unnest(r2.wait_hist) WITH ORDINALITY AS h(n, i)
                WHERE r2.at = r.at GROUP BY h.i) x) AS hist
       FROM r GROUP BY r.at ORDER BY r.at`,
    [queue, minutes, bucketMinutes],
  );
  return rows.map((r) => ({
    at: r.at,
    completed: Number(r.completed),
    failed: Number(r.failed),
    dead: Number(r.dead),
    waitHist: (r.hist ?? []).map(Number),
  }));
}

export interface RecentStatsRow {
  queue: string;
  minute: Date;
  completed: number;
  failed: number;
  dead: number;
}

/**
 * Deletes rows past each queue's age limit (`limits`: queue → ms), oldest first, at most `limit` in all,
 * in one statement: per queue a range of its primary key, so a queue with nothing to prune costs one index
 * probe. Returns how many rows went, per queue.
 */
export async function queueStatsPrune(
  db: Executor,
  schema: string,
  limits: ReadonlyMap<string, number>,
  limit: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (limits.size === 0) return out;
  const { rows } = await db.query<{ queue: string; n: number }>(
    `WITH gone AS (
       DELETE FROM ${table(schema)} s WHERE s.ctid = ANY (ARRAY(
         SELECT x.ctid FROM unnest($1::text[], $2::bigint[]) AS u(queue, max_age) CROSS JOIN LATERAL (
           SELECT x.ctid FROM ${table(schema)} x
            WHERE x.queue = u.queue AND x.minute < now() - u.max_age * interval '1 millisecond'
            ORDER BY x.minute LIMIT $3) x
         LIMIT $3))
       RETURNING s.queue)
     SELECT queue, count(*)::int AS n FROM gone GROUP BY queue`,
    [[...limits.keys()], [...limits.values()], limit],
  );
  for (const r of rows) out.set(r.queue, r.n);
  return out;
}

/** The slot where the `rank`-th wait (1-based) falls. */
function firstAt(hist: readonly number[], rank: number): number {
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return i;
  }
  return hist.length - 1;
}

/**
 * The wait (ms) under which a fraction `p` of the histogram's waits fall: the upper bound of its slot (the
 * last bound when it falls in the open-ended slot: read "at least"). Null when the histogram is empty.
 */
export function waitQuantile(hist: readonly number[], p: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  return WAIT_BOUNDS_MS[Math.min(firstAt(hist, Math.ceil(p * total)), WAIT_BOUNDS_MS.length - 1)]!;
}
