import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';

/** Groups recomputed per statement: each statement holds at most this many group rows until it ends. */
const PAGE = 200;

/**
 * Full recompute of `<queue>_groups` from the job table (refreshGroups), correcting any drift the
 * triggers may have accumulated. Returns false (did nothing) when a refresh started less than
 * `minIntervalMs` ago, or null when the queue is not registered.
 *
 * Concurrency: the refresh never stops claims or enqueues, and never waits for them. It walks every
 * group key (those with jobs, found by a loose index scan, and those with a row) in key order, a page at
 * a time, each page one statement of its own: `_group_settle(q, key, true)` locks each row FOR UPDATE
 * SKIP LOCKED and recomputes it from a fresh snapshot (see migration 0005). A group held at that moment
 * (by an enqueue still in progress, a claim, an ack) is left for the next refresh: whoever holds it is
 * keeping it up to date. The start is claimed by moving `groups_refreshed_at`, so two refreshes asked
 * for at once with an interval run once.
 */
export async function groupRefresh(
  db: Executor,
  t: QueueTables,
  minIntervalMs: number,
): Promise<boolean | null> {
  const start = await db.query<{ started: boolean }>(
    `WITH q AS (SELECT name, groups_refreshed_at FROM ${t.registry} WHERE name = $1),
     go AS (
       UPDATE ${t.registry} r SET groups_refreshed_at = now()
       FROM q WHERE r.name = q.name
         AND ($2::bigint <= 0 OR q.groups_refreshed_at IS NULL
              OR q.groups_refreshed_at <= now() - $2::bigint * interval '1 millisecond')
       RETURNING r.name
     )
     SELECT EXISTS (SELECT 1 FROM go) AS started FROM q`,
    [t.queue, minIntervalMs],
  );
  const row = start.rows[0];
  if (!row) return null;
  if (!row.started) return false;
  let after: string | null = null;
  for (;;) {
    const { rows }: { rows: { k: string }[] } = await db.query<{ k: string }>(
      `WITH RECURSIVE walk(k) AS (
         (SELECT j.group_key FROM ${t.jobs} j
          WHERE j.group_key IS NOT NULL AND ($1::text IS NULL OR j.group_key > $1::text)
          ORDER BY j.group_key LIMIT 1)
         UNION ALL
         SELECT (SELECT j.group_key FROM ${t.jobs} j WHERE j.group_key > w.k ORDER BY j.group_key LIMIT 1)
         FROM walk w WHERE w.k IS NOT NULL
       ),
       keys AS (
         (SELECT k FROM walk WHERE k IS NOT NULL LIMIT $2)
         UNION
         (SELECT g.group_key FROM ${t.groups} g WHERE $1::text IS NULL OR g.group_key > $1::text
          ORDER BY g.group_key LIMIT $2)
       )
       SELECT k FROM keys ORDER BY k LIMIT $2`,
      [after, PAGE],
    );
    if (rows.length === 0) return true;
    const keys: string[] = rows.map((r) => r.k);
    await db.query(
      `SELECT count(*) FROM unnest($2::text[]) k WHERE ${quoteIdent(t.schema)}._group_settle($1, k, true)`,
      [t.queue, keys],
    );
    after = keys.at(-1)!;
  }
}
