import type { Executor } from '../executor.js';
import type { RecentStatsRow } from './queue-stats.js';
import { queueTables, quoteIdent } from '../sql.js';
import { readyPredicate } from './filters.js';
import { LIMIT_KEY_META } from '../../core/flow-limits.js';

/** One queue's gauges, as read by metricsSnapshot. Counts are numbers (bigint counts fit easily). */
export interface QueueGaugeRow {
  queue: string;
  ready: number;
  inFlight: number;
  scheduled: number;
  retrying: number;
  suspended: number;
  exhausted: number;
  dead: number;
  oldestReadyAgeSeconds: number | null;
  /** Jobs holding a lease, expired or not: what a flow-control cap counts (docs/flow-control.md). */
  leased: number;
}

/** A queue's flow-control limits (migration 0006) and its bucket's tokens now, for the gauges. */
export interface FlowGaugeRow {
  queue: string;
  maxInFlight: number | null;
  /** Null when the queue has no rate limit. */
  tokens: number | null;
  /** Whether the queue has per-key limits (migration 0014). */
  perKey: boolean;
}

/** A keyed queue's key gauges: keys at their limit, and the jobs in flight of each configured key. */
export interface KeyGaugeRow {
  queue: string;
  /** Keys whose jobs in flight reached their limit (their override, else the queue's per-key default). */
  atLimit: number;
  /** Every key with an override (bounded by configuration, never by the jobs' keys). */
  configured: { key: string; inFlight: number }[];
}

/** pg_stat_user_tables figures for one of a queue's tables. */
export interface TableHealthRow {
  table: string;
  deadTuples: number;
  liveTuples: number;
  lastAutovacuum: Date | null;
}

export interface MetricsSnapshot {
  queues: QueueGaugeRow[];
  tables: TableHealthRow[];
  liveWorkers: number;
  /** Controlled-enqueue counters of the queues (migration 0007), summed over their shards. */
  enqueueControls: { queue: string; kind: string; count: number }[];
  /** The queues among those asked about that have flow-control limits. */
  flow: FlowGaugeRow[];
  /** The queues among those with per-key limits. */
  keys: KeyGaugeRow[];
  /** The throughput rollup's rows of these queues for the last ROLLUP_WINDOW_MINUTES (migration 0011). */
  throughput: RecentStatsRow[];
}

/** Minutes of the throughput rollup a snapshot reads (older rows no longer change). */
export const ROLLUP_WINDOW_MINUTES = 10;

const NOT_IN_FLIGHT = `(j.leased_until IS NULL OR j.leased_until <= now())`;

/**
 * Every gauge of a set of queues in ONE statement: a scalar subquery per queue (so the cost is one scan
 * per queue table, whatever the number of gauges), table health from pg_stat_user_tables, and the
 * workers whose heartbeat is younger than `liveWindowMs`. Queue names must already exist; a queue
 * dropped meanwhile makes the statement fail with 42P01 and the caller skips that round.
 */
export async function metricsSnapshot(
  db: Executor,
  schema: string,
  queues: readonly string[],
  liveWindowMs: number,
): Promise<MetricsSnapshot> {
  const perQueue = queues.map((name, i) => {
    const t = queueTables(schema, name);
    const live = `(${NOT_IN_FLIGHT} AND NOT j.suspended AND (j.leased_until IS NULL OR j.attempts < j.max_attempts))`;
    const ready = readyPredicate(t, 'j');
    // The queue name is bound ($3[i]), never spliced: only validated, quoted table names are text here.
    return `(SELECT json_build_object(
        'queue', ($3::text[])[${i + 1}],
        'ready', count(*) FILTER (WHERE ${ready}),
        'inFlight', count(*) FILTER (WHERE j.leased_until > now()),
        'scheduled', count(*) FILTER (WHERE ${live} AND j.run_at > now() AND j.attempts = 0),
        'retrying', count(*) FILTER (WHERE ${live} AND j.run_at > now() AND j.attempts > 0),
        'suspended', count(*) FILTER (WHERE ${NOT_IN_FLIGHT} AND j.suspended),
        'exhausted', count(*) FILTER (WHERE ${NOT_IN_FLIGHT} AND NOT j.suspended
                                        AND j.leased_until IS NOT NULL AND j.attempts >= j.max_attempts),
        'oldestReadyAgeSeconds', extract(epoch FROM now() - min(j.run_at) FILTER (WHERE ${ready}))::float8,
        'dead', (SELECT count(*) FROM ${t.dlq}),
        'leased', count(*) FILTER (WHERE j.leased_until IS NOT NULL)
      ) FROM ${t.jobs} j)`;
  });
  const queueArray = perQueue.length === 0 ? `'[]'::json` : `json_build_array(${perQueue.join(',\n')})`;
  const tableNames = queues.flatMap((q) => [q, `${q}_groups`, `${q}_results`, `${q}_dlq`]);
  const { rows } = await db.query<{
    queues: QueueGaugeRow[];
    tables: { table: string; deadTuples: number; liveTuples: number; lastAutovacuum: string | null }[];
    live_workers: string;
    controls: { queue: string; kind: string; count: string }[];
    flow: { queue: string; maxInFlight: number | null; tokens: number | null; perKey: boolean }[];
    throughput: { queue: string; minute: string; completed: string; failed: string; dead: string }[];
  }>(
    `SELECT ${queueArray} AS queues, cardinality($3::text[]) AS queue_count,
       (SELECT coalesce(json_agg(json_build_object(
           'table', s.relname, 'deadTuples', s.n_dead_tup, 'liveTuples', s.n_live_tup,
           'lastAutovacuum', s.last_autovacuum) ORDER BY s.relname), '[]'::json)
          FROM pg_stat_user_tables s
         WHERE s.schemaname = $1 AND s.relname = ANY($4::text[])) AS tables,
       (SELECT count(*) FROM ${quoteIdent(schema)}._workers w
         WHERE w.last_heartbeat > now() - $2::bigint * interval '1 millisecond') AS live_workers,
       (SELECT coalesce(json_agg(json_build_object('queue', c.queue, 'kind', c.kind, 'count', c.n)
                                 ORDER BY c.queue, c.kind), '[]'::json)
          FROM (SELECT queue, kind, sum(count)::text AS n FROM ${quoteIdent(schema)}._enqueue_stats
                WHERE queue = ANY($3::text[]) GROUP BY queue, kind) c) AS controls,
       (SELECT coalesce(json_agg(json_build_object('queue', f.queue, 'maxInFlight', f.max_in_flight,
           'perKey', f.per_key,
           'tokens', CASE WHEN f.rate_per_sec IS NOT NULL THEN least(f.burst, coalesce(f.tokens, f.burst)
             + f.rate_per_sec * greatest(extract(epoch FROM clock_timestamp()
                                                 - coalesce(f.tokens_at, clock_timestamp())), 0)) END)
           ORDER BY f.queue), '[]'::json)
          FROM ${quoteIdent(schema)}._flow_limits f WHERE f.queue = ANY($3::text[])) AS flow,
       (SELECT coalesce(json_agg(json_build_object('queue', r.queue, 'minute', r.minute,
           'completed', r.completed::text, 'failed', r.failed::text, 'dead', r.dead::text)), '[]'::json)
          FROM ${quoteIdent(schema)}._queue_stats r WHERE r.queue = ANY($3::text[])
           AND r.minute >= date_trunc('minute', now()) - ${ROLLUP_WINDOW_MINUTES} * interval '1 minute') AS throughput`,
    [schema, liveWindowMs, [...queues], tableNames],
  );
  const row = rows[0]!;
  const keyed = row.flow.filter((f) => f.perKey).map((f) => f.queue);
  return {
    queues: row.queues.map((q) => ({
      ...q,
      ready: Number(q.ready),
      inFlight: Number(q.inFlight),
      scheduled: Number(q.scheduled),
      retrying: Number(q.retrying),
      suspended: Number(q.suspended),
      exhausted: Number(q.exhausted),
      dead: Number(q.dead),
      leased: Number(q.leased),
      oldestReadyAgeSeconds:
        q.oldestReadyAgeSeconds === null ? null : Math.max(0, Number(q.oldestReadyAgeSeconds)),
    })),
    tables: row.tables.map((t) => ({
      table: t.table,
      deadTuples: Number(t.deadTuples),
      liveTuples: Number(t.liveTuples),
      lastAutovacuum: t.lastAutovacuum === null ? null : new Date(t.lastAutovacuum),
    })),
    liveWorkers: Number(row.live_workers),
    enqueueControls: row.controls.map((c) => ({ queue: c.queue, kind: c.kind, count: Number(c.count) })),
    flow: row.flow.map((f) => ({
      queue: f.queue,
      maxInFlight: f.maxInFlight,
      tokens: f.tokens === null ? null : Number(f.tokens),
      perKey: f.perKey,
    })),
    keys: keyed.length === 0 ? [] : await keyGauges(db, schema, keyed),
    throughput: row.throughput.map((r) => ({
      queue: r.queue,
      minute: new Date(r.minute),
      completed: Number(r.completed),
      failed: Number(r.failed),
      dead: Number(r.dead),
    })),
  };
}

/**
 * The key gauges of keyed queues in ONE statement (a second one of the refresh, only when a queue has
 * per-key limits): per queue, its leased jobs counted by key (the leased rows only, as the claim counts
 * them), compared with each key's limit, and the count of every configured key.
 */
async function keyGauges(db: Executor, schema: string, queues: readonly string[]): Promise<KeyGaugeRow[]> {
  const s = quoteIdent(schema);
  const k = `coalesce(x.meta ->> '${LIMIT_KEY_META}', '')`;
  const perQueue = queues.map((name, i) => {
    const t = queueTables(schema, name);
    return `(WITH c AS (SELECT ${k} AS key, count(*)::int AS n FROM ${t.jobs} x
                        WHERE x.leased_until IS NOT NULL GROUP BY 1)
      SELECT json_build_object('queue', fl.queue,
        'atLimit', (SELECT count(*) FROM c LEFT JOIN ${s}._flow_keys o
                      ON o.queue = fl.queue AND o.key = c.key AND o.configured
                    WHERE c.n >= coalesce(o.max_in_flight, CASE WHEN c.key <> '' THEN fl.key_max_in_flight END)),
        'configured', (SELECT coalesce(json_agg(json_build_object('key', o.key, 'inFlight', coalesce(c.n, 0))
                                                ORDER BY o.key), '[]'::json)
                       FROM ${s}._flow_keys o LEFT JOIN c ON c.key = o.key
                       WHERE o.queue = fl.queue AND o.configured))
      FROM ${s}._flow_limits fl WHERE fl.queue = ($1::text[])[${i + 1}] AND fl.per_key)`;
  });
  const { rows } = await db.query<{ keys: (KeyGaugeRow | null)[] }>(
    `SELECT json_build_array(${perQueue.join(',\n')}) AS keys`,
    [[...queues]],
  );
  return rows[0]!.keys
    .filter((r): r is KeyGaugeRow => r !== null)
    .map((r) => ({ queue: r.queue, atLimit: Number(r.atLimit), configured: r.configured }));
}
