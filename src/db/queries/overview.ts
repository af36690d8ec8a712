import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';

// The dashboard's overview of one queue: figures that read a bounded number of index entries whatever the
// queue holds, so a refresh costs the same on a queue of 1M jobs as on one of 1k. Only the indexes the claim
// and the lease code need anyway are used (no index exists for the overview: every index on the job table
// slows down every insert and claim):
//
// - total, dead letters, groups: count(*) over `LIMIT cap+1` of the table (stops after cap+1 rows); past the
//   cap, the planner's statistics.
// - in flight: the lease index range leased_until > now(), at most cap+1 entries.
// - claimable: what claims could take now, read the way the claim reads it.
//   Ungrouped: per priority level of <q>_ready_idx (found by a loose index scan, one probe per level, like
//   the claim), the range (priority = p, run_at <= now()) in run_at order. Grouped: per min_priority level
//   of <q>_groups_ready_idx, the groups whose ready_at has passed, minus those with a lease or retry in
//   progress: each has one claimable head (the claim takes one job per group), so a grouped job counts
//   once per group, not once per job. Each side carries a budget through its recursion: all levels
//   together read at most cap+1 entries, plus one per level past the budget (the level's oldest entry).
//   Entries whose row is not claimable after all (a lease that expired on its final attempt, waiting for
//   the exhausted-job reaper; a group whose in_flight_until is still ahead) are read, counted as scanned
//   and not as claimable.
// - oldest claimable: the oldest run_at (ungrouped) / ready_at (groups: since when the group's head has
//   been claimable) among the claimable entries read; each level's oldest entry is always read.
//
// Scheduled, retrying and suspended jobs have no index range of their own (an index for them was measured
// to slow inserts by ~40%), so they are not part of the overview: stats() counts them exactly with one
// full scan, on demand.

export interface OverviewRow {
  total: string;
  in_flight: string;
  dead: string;
  groups: string;
  /** Entries read from the ready index / ready groups, and how many of them are claimable. */
  ungrouped_scanned: string;
  ungrouped_claimable: string;
  grouped_scanned: string;
  grouped_claimable: string;
  oldest_claimable_age: number | null;
  total_estimate: number | null;
  dead_estimate: number | null;
  groups_estimate: number | null;
}

/**
 * The planner's row estimate for a table, scaled to its current size the way the planner does it
 * (reltuples per page × pages now). NULL when the table was never analyzed.
 */
const estimate = (param: string): string =>
  `(SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 0
       THEN round(c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::float8))
     END::float8
     FROM pg_class c WHERE c.oid = to_regclass(${param}))`;

/**
 * A budgeted walk over priority levels, as a recursive CTE `name(p, scanned, claimable, oldest)`. `first`
 * and `next(prev)` find a level (one index probe each); `range(level, limit)` is the level's due range in
 * key order, selecting `at` (the sort key) and `ok` (claimable). `scanned` runs over the levels: each level
 * reads what is left of the cap + 1 budget, and at least its first entry.
 */
function levelWalk(
  name: string,
  first: string,
  next: (prev: string) => string,
  range: (level: string, limit: string) => string,
): string {
  const count = (level: string, limit: string) =>
    `(SELECT count(*) AS scanned, count(*) FILTER (WHERE r.ok) AS claimable, min(r.at) FILTER (WHERE r.ok) AS oldest
      FROM (${range(level, limit)}) r)`;
  return `${name}(p, scanned, claimable, oldest) AS (
      SELECT f.p, c.scanned, c.claimable, c.oldest
      FROM (${first}) f CROSS JOIN LATERAL ${count('f.p', '$1::int')} c
      UNION ALL
      SELECT n.p, w.scanned + c.scanned, c.claimable, c.oldest
      FROM ${name} w
      CROSS JOIN LATERAL (${next('w.p')}) n
      CROSS JOIN LATERAL ${count('n.p', 'greatest($1::int - w.scanned, 1)')} c
    )`;
}

/** The statement (text and values) behind queueOverview, exposed so tests can EXPLAIN exactly it. */
export function queueOverviewSql(t: QueueTables, cap: number): { text: string; values: unknown[] } {
  // Exactly the predicate of <q>_ready_idx (priority, run_at, id), so every probe and range is on it.
  const jobs = `${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended`;
  const jobLevel = (after: string) =>
    `SELECT x.priority AS p FROM ${jobs} ${after} ORDER BY x.priority LIMIT 1`;
  const jobRange = (level: string, limit: string) =>
    `SELECT x.run_at AS at, x.attempts < x.max_attempts AS ok
     FROM ${jobs} AND x.priority = ${level} AND x.run_at <= now()
     ORDER BY x.run_at LIMIT ${limit}`;
  // Exactly the predicate of <q>_groups_ready_idx (min_priority, ready_at) WHERE ready_at IS NOT NULL.
  const groups = `${t.groups} g WHERE g.ready_at IS NOT NULL`;
  const groupLevel = (after: string) =>
    `SELECT g.min_priority AS p FROM ${groups} ${after} ORDER BY g.min_priority LIMIT 1`;
  const groupRange = (level: string, limit: string) =>
    `SELECT g.ready_at AS at, (g.in_flight_until IS NULL OR g.in_flight_until <= now()) AS ok
     FROM ${groups} AND g.min_priority = ${level} AND g.ready_at <= now()
     ORDER BY g.ready_at LIMIT ${limit}`;
  const ung = levelWalk('ung', jobLevel(''), (prev) => jobLevel(`AND x.priority > ${prev}`), jobRange);
  const grp = levelWalk(
    'grp',
    groupLevel(''),
    (prev) => groupLevel(`AND g.min_priority > ${prev}`),
    groupRange,
  );
  const capped = (inner: string) => `(SELECT count(*) FROM (${inner}) c)`;
  const text = `WITH RECURSIVE ${ung}, ${grp},
    u AS (SELECT coalesce(max(scanned), 0) AS scanned, coalesce(sum(claimable), 0) AS claimable,
                 min(oldest) AS oldest FROM ung),
    g AS (SELECT coalesce(max(scanned), 0) AS scanned, coalesce(sum(claimable), 0) AS claimable,
                 min(oldest) AS oldest FROM grp)
    SELECT
      ${capped(`SELECT 1 FROM ${t.jobs} j LIMIT $1::int`)} AS total,
      ${capped(`SELECT 1 FROM ${t.jobs} j WHERE j.leased_until > now() ORDER BY j.leased_until LIMIT $1::int`)}
        AS in_flight,
      ${capped(`SELECT 1 FROM ${t.dlq} d LIMIT $1::int`)} AS dead,
      ${capped(`SELECT 1 FROM ${t.groups} gr LIMIT $1::int`)} AS groups,
      u.scanned AS ungrouped_scanned, u.claimable AS ungrouped_claimable,
      g.scanned AS grouped_scanned, g.claimable AS grouped_claimable,
      extract(epoch FROM now() - least(u.oldest, g.oldest))::float8 AS oldest_claimable_age,
      ${estimate('$2::text')} AS total_estimate,
      ${estimate('$3::text')} AS dead_estimate,
      ${estimate('$4::text')} AS groups_estimate
    FROM u CROSS JOIN g`;
  return { text, values: [cap + 1, t.jobs, t.dlq, t.groups] };
}

/**
 * Planner settings the statement runs under (transaction-local). Every range above is an ORDER BY … LIMIT
 * that an index serves in order and stops reading after the LIMIT; with these off, the planner cannot swap
 * one for a bitmap scan or a sort, which read the whole range first (it does so when its statistics say
 * the range is small, and statistics can be stale). The plan test runs under the same settings.
 */
export const OVERVIEW_PLANNER_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  enable_bitmapscan: 'off',
  enable_sort: 'off',
});

/** One queue's bounded counts and estimates in one statement. */
export async function queueOverview(db: Executor, t: QueueTables, cap: number): Promise<OverviewRow> {
  const { text, values } = queueOverviewSql(t, cap);
  const names = Object.keys(OVERVIEW_PLANNER_SETTINGS);
  return db.transaction(async (tx) => {
    // Inside the caller's transaction this is a savepoint, which keeps transaction-local settings after
    // it is released: the previous values are put back afterwards (an error rolls them back anyway).
    const before = await tx.query<Record<string, string>>(
      `SELECT ${names
        .map((n, i) => `current_setting('${n}') AS "${n}", set_config('${n}', $${i + 1}, true) AS "set_${n}"`)
        .join(', ')}`,
      names.map((n) => OVERVIEW_PLANNER_SETTINGS[n]),
    );
    const { rows } = await tx.query<OverviewRow>(text, values, `${t.statementPrefix}overview`);
    await tx.query(
      `SELECT ${names.map((n, i) => `set_config('${n}', $${i + 1}, true)`).join(', ')}`,
      names.map((n) => before.rows[0]![n]),
    );
    return rows[0]!;
  });
}
