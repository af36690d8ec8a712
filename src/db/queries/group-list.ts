import type { Executor } from '../executor.js';
import { statusExpression } from '../rows.js';
import type { QueueTables } from '../sql.js';

// A page of a queue's groups (the `<queue>_groups` table, one row per group with live jobs), each with
// what an operator needs to see why it is or is not moving: its FIFO head, the job holding it (in flight,
// or failed and waiting for its retry) and the job a claim would take next. Keyset-paginated on the
// primary key; every per-group lookup is an index probe on the group index, bounded by `scan` rows, and
// the jobs of a group are counted up to `countCap` (no count is kept: see migration 0005).

/** Columns of a job reference in the listing, prefixed (`head_`, `blocker_`). */
export interface GroupJobColumns {
  id: string | null;
  status: string | null;
  priority: number | null;
  attempts: number | null;
  max_attempts: number | null;
  run_at: Date | null;
  leased_until: Date | null;
  worker_id: string | null;
  last_error: string | null;
}

export interface GroupListRow {
  group_key: string;
  job_count: number;
  in_flight_count: number;
  in_flight_until: Date | null;
  ready_at: Date | null;
  now: Date;
  head: GroupJobColumns;
  blocker: GroupJobColumns;
  next_id: string | null;
}

const REF_COLUMNS = [
  'id',
  'status',
  'priority',
  'attempts',
  'max_attempts',
  'run_at',
  'leased_until',
  'worker_id',
  'last_error',
] as const;

function refSelect(t: QueueTables): string {
  return `j.id, ${statusExpression(t, 'j')} AS status, j.priority, j.attempts, j.max_attempts, j.run_at,
    j.leased_until, j.worker_id, j.last_error`;
}

/**
 * Groups after `afterKey` (exclusive) in key order, at most `limit`. The blocker is looked up only for a
 * group held now (in_flight_until in the future); the next runnable job only for a group that is not, among
 * its first `scan` jobs in FIFO order (priority, id): the same rule the claim applies.
 */
export function groupList(
  db: Executor,
  t: QueueTables,
  afterKey: string | null,
  limit: number,
  scan: number,
  countCap: number,
): Promise<GroupListRow[]> {
  return selectGroups(
    db,
    t,
    `SELECT * FROM ${t.groups} g WHERE $1::text IS NULL OR g.group_key > $1::text ORDER BY g.group_key LIMIT $2::int`,
    [afterKey, limit],
    scan,
    countCap,
  );
}

/** One group by key (a primary-key probe), described like a row of groupList; null when it has no live job. */
export async function groupGet(
  db: Executor,
  t: QueueTables,
  key: string,
  scan: number,
  countCap: number,
): Promise<GroupListRow | null> {
  const rows = await selectGroups(
    db,
    t,
    `SELECT * FROM ${t.groups} g WHERE g.group_key = $1::text`,
    [key],
    scan,
    countCap,
  );
  return rows[0] ?? null;
}

/**
 * The groups `source` selects (its parameters: `sourceValues`), each with its job count (up to
 * `countCap`), head, blocker and next job.
 */
async function selectGroups(
  db: Executor,
  t: QueueTables,
  source: string,
  sourceValues: unknown[],
  scan: number,
  countCap: number,
): Promise<GroupListRow[]> {
  const values = [...sourceValues, scan, countCap];
  const scanParam = `$${values.length - 1}::int`;
  const capParam = `$${values.length}::int`;
  const prefixed = (alias: string) => REF_COLUMNS.map((c) => `${alias}.${c} AS ${alias}_${c}`).join(', ');
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT g.group_key, g.in_flight_count, g.in_flight_until, g.ready_at, now() AS now,
       (SELECT count(*) FROM (SELECT 1 FROM ${t.jobs} j WHERE j.group_key = g.group_key LIMIT ${capParam}) n)
         AS job_count,
       ${prefixed('head')}, ${prefixed('blocker')}, nx.id AS next_id
     FROM (${source}) g
     LEFT JOIN LATERAL (
       SELECT ${refSelect(t)} FROM ${t.jobs} j WHERE j.group_key = g.group_key ORDER BY j.priority, j.id LIMIT 1
     ) head ON true
     LEFT JOIN LATERAL (
       SELECT ${refSelect(t)} FROM ${t.jobs} j
       WHERE g.in_flight_until > now() AND j.group_key = g.group_key
         AND (j.leased_until > now()
              OR (j.leased_until IS NULL AND j.attempts > 0 AND NOT j.suspended AND j.run_at > now()))
       ORDER BY j.priority, j.id LIMIT 1
     ) blocker ON true
     LEFT JOIN LATERAL (
       SELECT x.id FROM (
         SELECT j.id, j.suspended, j.run_at, j.attempts, j.max_attempts, j.priority FROM ${t.jobs} j
         WHERE (g.in_flight_until IS NULL OR g.in_flight_until <= now()) AND j.group_key = g.group_key
         ORDER BY j.priority, j.id LIMIT ${scanParam}
       ) x
       WHERE NOT x.suspended AND x.run_at <= now() AND x.attempts < x.max_attempts
       ORDER BY x.priority, x.id LIMIT 1
     ) nx ON true
     ORDER BY g.group_key`,
    values,
  );
  const ref = (r: Record<string, unknown>, alias: string) =>
    Object.fromEntries(REF_COLUMNS.map((c) => [c, r[`${alias}_${c}`] ?? null])) as unknown as GroupJobColumns;
  return rows.map((r) => ({
    group_key: r.group_key as string,
    job_count: Number(r.job_count),
    in_flight_count: Number(r.in_flight_count),
    in_flight_until: (r.in_flight_until as Date | null) ?? null,
    ready_at: (r.ready_at as Date | null) ?? null,
    now: r.now as Date,
    head: ref(r, 'head'),
    blocker: ref(r, 'blocker'),
    next_id: (r.next_id as string | null) ?? null,
  }));
}
