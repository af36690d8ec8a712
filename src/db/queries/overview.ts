import type { Executor } from '../executor.js';
import type { QueueTables } from '../sql.js';
import { readyPredicate, statusPredicate } from './filters.js';

// The dashboard's overview of one queue: counts that stop at a cap instead of scanning the whole table,
// so a refresh costs the same on a queue of 1M jobs as on one of 1k. Every count is a
// `count(*) FROM (... LIMIT cap+1)` over an index range shaped for it (the state index of migration 0003,
// (suspended, least(attempts, 1), run_at), and the lease index): at most cap+1 entries are read per figure.
// Each range is ordered by its index key, which steers the planner to the index even when most rows match
// (a sequential scan with a LIMIT would otherwise read every non-matching row before the first match).
// Totals past the cap (jobs, dead letters, groups) come from the planner's statistics instead.

export interface OverviewRow {
  total: string;
  ready: string;
  in_flight: string;
  scheduled: string;
  retrying: string;
  suspended: string;
  dead: string;
  groups: string;
  oldest_ready_age: number | null;
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

/** The statement (text and values) behind queueOverview, exposed so tests can EXPLAIN exactly it. */
export function queueOverviewSql(t: QueueTables, cap: number): { text: string; values: unknown[] } {
  const ready = readyPredicate(t, 'j');
  const capped = (inner: string) => `(SELECT count(*) FROM (${inner}) c)`;
  // Both halves of the state index (never tried / tried before), each in run_at order.
  const readyHalves = (select: string, limit: string) =>
    [0, 1]
      .map(
        (k) =>
          `(SELECT ${select} FROM ${t.jobs} j WHERE least(j.attempts, 1) = ${k} AND ${ready}
            ORDER BY j.run_at LIMIT ${limit})`,
      )
      .join(' UNION ALL ');
  const text = `SELECT
    ${capped(`SELECT 1 FROM ${t.jobs} j LIMIT $1::int`)} AS total,
    ${capped(`${readyHalves('1', '$1::int')} LIMIT $1::int`)} AS ready,
    ${capped(`SELECT 1 FROM ${t.jobs} j WHERE j.leased_until > now() ORDER BY j.leased_until LIMIT $1::int`)} AS in_flight,
    ${capped(
      `SELECT 1 FROM ${t.jobs} j WHERE least(j.attempts, 1) = 0 AND ${statusPredicate(t, 'scheduled', 'j')}
       ORDER BY j.run_at LIMIT $1::int`,
    )} AS scheduled,
    ${capped(
      `SELECT 1 FROM ${t.jobs} j WHERE least(j.attempts, 1) = 1 AND ${statusPredicate(t, 'retrying', 'j')}
       ORDER BY j.run_at LIMIT $1::int`,
    )} AS retrying,
    ${capped(
      `SELECT 1 FROM ${t.jobs} j WHERE j.suspended AND (j.leased_until IS NULL OR j.leased_until <= now())
       ORDER BY least(j.attempts, 1), j.run_at LIMIT $1::int`,
    )} AS suspended,
    ${capped(`SELECT 1 FROM ${t.dlq} d LIMIT $1::int`)} AS dead,
    ${capped(`SELECT 1 FROM ${t.groups} g LIMIT $1::int`)} AS groups,
    (SELECT extract(epoch FROM now() - min(o.run_at))::float8 FROM (${readyHalves('j.run_at', '1')}) o)
      AS oldest_ready_age,
    ${estimate('$2::text')} AS total_estimate,
    ${estimate('$3::text')} AS dead_estimate,
    ${estimate('$4::text')} AS groups_estimate`;
  return { text, values: [cap + 1, t.jobs, t.dlq, t.groups] };
}

/** One queue's capped counts and estimates in one statement. */
export async function queueOverview(db: Executor, t: QueueTables, cap: number): Promise<OverviewRow> {
  const { text, values } = queueOverviewSql(t, cap);
  const { rows } = await db.query<OverviewRow>(text, values, `${t.statementPrefix}overview`);
  return rows[0]!;
}
