import {
  NO_LIMITS,
  type CheckedKeyLimitsPatch,
  type CheckedLimitsPatch,
  type KeyLimits,
  type KeyUsage,
  type QueueLimits,
  type RateLimit,
  LIMIT_KEY_META,
} from '../../core/flow-limits.js';
import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// Flow-control limits (migration 0006): one row of <schema>._flow_limits per queue that has any.

interface LimitsRow {
  queue: string;
  max_in_flight: number | null;
  rate_per_sec: number | null;
  burst: number | null;
  cost: number;
  per_key: boolean;
  key_max_in_flight: number | null;
  key_rate_per_sec: number | null;
  key_burst: number | null;
  key_cost: number;
}

const LIMIT_COLUMNS =
  'queue, max_in_flight, rate_per_sec, burst, cost, per_key, key_max_in_flight, key_rate_per_sec, key_burst, key_cost';

function toRate(perSecond: number | null, burst: number | null, cost: number | null): RateLimit | null {
  return perSecond === null || burst === null ? null : { perSecond, burst, cost: cost ?? 1 };
}

function toLimits(r: LimitsRow | undefined): QueueLimits {
  if (!r) return NO_LIMITS;
  return {
    maxInFlight: r.max_in_flight,
    rate: toRate(r.rate_per_sec, r.burst, r.cost),
    perKey: r.per_key
      ? { maxInFlight: r.key_max_in_flight, rate: toRate(r.key_rate_per_sec, r.key_burst, r.key_cost) }
      : null,
  };
}

/** Every queue of the schema that has limits, with them (what claims cache, refreshed each second). */
export async function flowLimitsAll(db: Executor, schema: string): Promise<Map<string, QueueLimits>> {
  const { rows } = await db.query<LimitsRow>(
    `SELECT ${LIMIT_COLUMNS} FROM ${quoteIdent(schema)}._flow_limits`,
    [],
    `arb:${schema}:flow-limits-all`,
  );
  return new Map(rows.map((r) => [r.queue, toLimits(r)]));
}

/** A queue's limits; undefined when the queue does not exist. */
export async function flowLimitsGet(
  db: Executor,
  schema: string,
  queue: string,
): Promise<QueueLimits | undefined> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<LimitsRow & { found: string }>(
    `SELECT q.name AS found, ${LIMIT_COLUMNS.split(', ')
      .map((c) => `f.${c}`)
      .join(', ')}
     FROM ${s}._queues q LEFT JOIN ${s}._flow_limits f ON f.queue = q.name WHERE q.name = $1`,
    [queue],
  );
  const r = rows[0];
  if (!r) return undefined;
  return r.queue === null ? NO_LIMITS : toLimits(r);
}

/**
 * Applies a validated patch to a queue's limits, in one transaction; undefined (nothing written) when the
 * queue does not exist. A queue left without any limit loses its row, so its claims skip flow control.
 * A new or changed bucket starts full; an unchanged one keeps its tokens (capped at the new burst).
 * Turning the per-key part on first builds the queue's key index (CONCURRENTLY, outside the transaction:
 * enqueues and claims go on meanwhile), so keyed claims never run without it.
 */
export async function flowLimitsSet(
  db: Executor,
  t: QueueTables,
  patch: CheckedLimitsPatch,
): Promise<QueueLimits | undefined> {
  const s = quoteIdent(t.schema);
  const queue = t.queue;
  if (patch.perKey) {
    const q = await db.query(`SELECT 1 FROM ${s}._queues WHERE name = $1`, [queue]);
    if (q.rowCount === 0) return undefined;
    await ensureKeyIndex(db, t);
  }
  return db.transaction(async (tx) => {
    const q = await tx.query(`SELECT 1 FROM ${s}._queues WHERE name = $1 FOR KEY SHARE`, [queue]);
    if (q.rowCount === 0) return undefined;
    const { rows } = await tx.query<LimitsRow>(
      `SELECT ${LIMIT_COLUMNS} FROM ${s}._flow_limits WHERE queue = $1 FOR UPDATE`,
      [queue],
    );
    const cur = toLimits(rows[0]);
    const perKey =
      patch.perKey === undefined
        ? cur.perKey
        : patch.perKey === null
          ? null
          : {
              maxInFlight:
                patch.perKey.maxInFlight === undefined
                  ? (cur.perKey?.maxInFlight ?? null)
                  : patch.perKey.maxInFlight,
              rate: patch.perKey.rate === undefined ? (cur.perKey?.rate ?? null) : patch.perKey.rate,
            };
    const next: QueueLimits = {
      maxInFlight: patch.maxInFlight === undefined ? cur.maxInFlight : patch.maxInFlight,
      rate: patch.rate === undefined ? cur.rate : patch.rate,
      perKey,
    };
    if (next.maxInFlight === null && next.rate === null && next.perKey === null) {
      await tx.query(`DELETE FROM ${s}._flow_limits WHERE queue = $1`, [queue]);
      return next;
    }
    const r = next.rate;
    const kr = next.perKey?.rate ?? null;
    await tx.query(
      `INSERT INTO ${s}._flow_limits AS f (queue, max_in_flight, rate_per_sec, burst, cost, tokens, tokens_at,
         per_key, key_max_in_flight, key_rate_per_sec, key_burst, key_cost)
       VALUES ($1, $2, $3, $4, coalesce($5, 1), NULL, NULL, $6, $7, $8, $9, coalesce($10, 1))
       ON CONFLICT (queue) DO UPDATE SET
         max_in_flight = EXCLUDED.max_in_flight,
         rate_per_sec = EXCLUDED.rate_per_sec,
         burst = EXCLUDED.burst,
         cost = EXCLUDED.cost,
         tokens = CASE WHEN (f.rate_per_sec, f.cost) IS NOT DISTINCT FROM (EXCLUDED.rate_per_sec, EXCLUDED.cost)
                       THEN least(f.tokens, EXCLUDED.burst) END,
         tokens_at = CASE WHEN (f.rate_per_sec, f.cost) IS NOT DISTINCT FROM (EXCLUDED.rate_per_sec, EXCLUDED.cost)
                          THEN f.tokens_at END,
         per_key = EXCLUDED.per_key,
         key_max_in_flight = EXCLUDED.key_max_in_flight,
         key_rate_per_sec = EXCLUDED.key_rate_per_sec,
         key_burst = EXCLUDED.key_burst,
         key_cost = EXCLUDED.key_cost,
         updated_at = now()`,
      [
        queue,
        next.maxInFlight,
        r?.perSecond ?? null,
        r?.burst ?? null,
        r?.cost ?? null,
        next.perKey !== null,
        next.perKey?.maxInFlight ?? null,
        kr?.perSecond ?? null,
        kr?.burst ?? null,
        kr?.cost ?? null,
      ],
    );
    // A per-key bucket whose definition changed starts full: the state rows of keys without an override go.
    const kcur = cur.perKey?.rate ?? null;
    if (kcur?.perSecond !== kr?.perSecond || kcur?.cost !== kr?.cost) {
      await tx.query(
        `UPDATE ${s}._flow_keys SET tokens = NULL, tokens_at = NULL WHERE queue = $1 AND rate_per_sec IS NULL`,
        [queue],
      );
    }
    return next;
  });
}

/** The index keyed claims read (migration 0014): built once per queue, without blocking writes. */
async function ensureKeyIndex(db: Executor, t: QueueTables): Promise<void> {
  const name = `${t.queue}_key_idx`;
  const { rows } = await db.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [t.schema, name],
  );
  if (rows[0]?.valid === true) return;
  // An interrupted CONCURRENTLY build leaves an invalid index behind: it goes, and the build runs again.
  if (rows[0]) await db.query(`DROP INDEX IF EXISTS ${quoteIdent(t.schema)}.${quoteIdent(name)}`);
  await db.query(
    `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(name)} ON ${t.jobs}
       ((coalesce(meta ->> '${LIMIT_KEY_META}', '')), priority, run_at, id)
     WHERE group_key IS NULL AND NOT suspended`,
  );
}

interface KeyRow {
  key: string;
  configured: boolean;
  max_in_flight: number | null;
  weight: number | null;
  rate_per_sec: number | null;
  burst: number | null;
  cost: number | null;
}

function toKeyLimits(r: KeyRow | undefined): KeyLimits {
  return {
    maxInFlight: r?.max_in_flight ?? null,
    rate: r ? toRate(r.rate_per_sec, r.burst, r.cost) : null,
    weight: r?.weight ?? null,
  };
}

/** One key's override (all null when it has none); undefined when the queue does not exist. */
export async function keyLimitsGet(
  db: Executor,
  schema: string,
  queue: string,
  key: string,
): Promise<KeyLimits | undefined> {
  const s = quoteIdent(schema);
  const { rows } = await db.query<KeyRow & { found: string }>(
    `SELECT q.name AS found, k.key, k.configured, k.max_in_flight, k.weight, k.rate_per_sec, k.burst, k.cost
     FROM ${s}._queues q LEFT JOIN ${s}._flow_keys k ON k.queue = q.name AND k.key = $2 AND k.configured
     WHERE q.name = $1`,
    [queue, key],
  );
  const r = rows[0];
  if (!r) return undefined;
  return toKeyLimits(r.key === null ? undefined : r);
}

/**
 * Applies a validated patch to one key's override; undefined when the queue does not exist. An override
 * left empty is removed (the key falls back to the queue's defaults). A changed bucket starts full.
 */
export async function keyLimitsSet(
  db: Executor,
  schema: string,
  queue: string,
  key: string,
  patch: CheckedKeyLimitsPatch,
): Promise<KeyLimits | undefined> {
  const s = quoteIdent(schema);
  return db.transaction(async (tx) => {
    const q = await tx.query(`SELECT 1 FROM ${s}._queues WHERE name = $1 FOR KEY SHARE`, [queue]);
    if (q.rowCount === 0) return undefined;
    const { rows } = await tx.query<KeyRow>(
      `SELECT key, configured, max_in_flight, weight, rate_per_sec, burst, cost FROM ${s}._flow_keys
       WHERE queue = $1 AND key = $2 FOR UPDATE`,
      [queue, key],
    );
    const cur = toKeyLimits(rows[0]?.configured ? rows[0] : undefined);
    const next: KeyLimits = {
      maxInFlight: patch.maxInFlight === undefined ? cur.maxInFlight : patch.maxInFlight,
      rate: patch.rate === undefined ? cur.rate : patch.rate,
      weight: patch.weight === undefined ? cur.weight : patch.weight,
    };
    const empty = next.maxInFlight === null && next.rate === null && next.weight === null;
    const rateChanged = cur.rate?.perSecond !== next.rate?.perSecond || cur.rate?.cost !== next.rate?.cost;
    await tx.query(
      `INSERT INTO ${s}._flow_keys AS k (queue, key, configured, max_in_flight, weight, rate_per_sec, burst, cost)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (queue, key) DO UPDATE SET configured = EXCLUDED.configured,
         max_in_flight = EXCLUDED.max_in_flight, weight = EXCLUDED.weight, rate_per_sec = EXCLUDED.rate_per_sec,
         burst = EXCLUDED.burst, cost = EXCLUDED.cost,
         tokens = CASE WHEN $9 THEN NULL ELSE least(k.tokens, coalesce(EXCLUDED.burst, k.tokens)) END,
         tokens_at = CASE WHEN $9 THEN NULL ELSE k.tokens_at END,
         updated_at = now()`,
      [
        queue,
        key,
        !empty,
        next.maxInFlight,
        next.weight,
        next.rate?.perSecond ?? null,
        next.rate?.burst ?? null,
        next.rate?.cost ?? null,
        rateChanged,
      ],
    );
    return next;
  });
}

/** Deletes every key row of a queue (when the queue is dropped). */
export async function keyLimitsDrop(db: Executor, schema: string, queue: string): Promise<void> {
  await db.query(`DELETE FROM ${quoteIdent(schema)}._flow_keys WHERE queue = $1`, [queue]);
}

/**
 * The keys of a keyed queue with their limits in force and their use now, read without locking or
 * writing: every key with ungrouped jobs (a loose scan of the key index) and every configured key, up to
 * `limit` keys in key order after `after`; or, with `only`, that one key.
 */
export async function keyUsage(
  db: Executor,
  t: QueueTables,
  limits: QueueLimits,
  o: { limit: number; after?: string | null; only?: string },
): Promise<KeyUsage[]> {
  const s = quoteIdent(t.schema);
  const k = `coalesce(x.meta ->> '${LIMIT_KEY_META}', '')`;
  const page =
    o.only !== undefined
      ? 'page AS (SELECT $2::text AS key WHERE $3::int > 0)'
      : `ks(key, n) AS (
       (SELECT ${k}, 1 FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
          AND ($2::text IS NULL OR ${k} > $2)
        ORDER BY 1 LIMIT 1)
       UNION ALL
       SELECT (SELECT ${k} FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended AND ${k} > ks.key
               ORDER BY 1 LIMIT 1), ks.n + 1
       FROM ks WHERE ks.key IS NOT NULL AND ks.n < $3
     ), keys AS (
       SELECT key FROM ks WHERE key IS NOT NULL
       UNION
       SELECT key FROM ${s}._flow_keys WHERE queue = $1 AND configured AND ($2::text IS NULL OR key > $2)
     ), page AS (SELECT key FROM keys ORDER BY key LIMIT $3)`;
  const { rows } = await db.query<KeyRow & KeyState>(
    `WITH RECURSIVE ${page}
     SELECT p.key, coalesce(f.configured, false) AS configured, f.max_in_flight, f.weight, f.rate_per_sec,
       f.burst, f.cost,
       (SELECT count(*)::int FROM ${t.jobs} x WHERE x.leased_until IS NOT NULL AND ${k} = p.key) AS in_flight,
       (SELECT count(*)::int FROM (SELECT 1 FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
          AND ${k} = p.key AND x.run_at <= now() AND x.attempts < x.max_attempts LIMIT 10000) r) AS ready,
       f.tokens, extract(epoch FROM clock_timestamp() - f.tokens_at)::float8 AS tokens_age
     FROM page p LEFT JOIN ${s}._flow_keys f ON f.queue = $1 AND f.key = p.key
     ORDER BY p.key`,
    [t.queue, o.only ?? o.after ?? null, o.only !== undefined ? 1 : o.limit],
  );
  return rows.map((r) => keyUsageOf(r, limits));
}

interface KeyState {
  in_flight: number;
  ready: number;
  tokens: number | null;
  tokens_age: number | null;
}

/** A key's limits in force (its override, else the queue's defaults; none by default for the key ''). */
function keyUsageOf(r: KeyRow & KeyState, limits: QueueLimits): KeyUsage {
  const own = r.configured ? toKeyLimits(r) : toKeyLimits(undefined);
  const defaults = r.key === '' ? null : limits.perKey;
  const rate = own.rate ?? defaults?.rate ?? null;
  const tokens =
    rate === null
      ? null
      : r.tokens === null || r.tokens_age === null
        ? rate.burst
        : Math.min(rate.burst, r.tokens + rate.perSecond * Math.max(r.tokens_age, 0));
  return {
    key: r.key,
    configured: r.configured,
    maxInFlight: own.maxInFlight ?? defaults?.maxInFlight ?? null,
    rate,
    weight: own.weight ?? 1,
    inFlight: r.in_flight,
    ready: r.ready,
    tokens,
  };
}

/** Deletes a queue's limits (when the queue is dropped). True when it had some. */
export async function flowLimitsDrop(db: Executor, schema: string, queue: string): Promise<boolean> {
  const r = await db.query(`DELETE FROM ${quoteIdent(schema)}._flow_limits WHERE queue = $1`, [queue]);
  return r.rowCount > 0;
}

/** A queue's limits and their use now, read without locking or writing (why, metrics, dashboards). */
export interface FlowUsage {
  limits: QueueLimits;
  /**
   * Jobs holding a lease (expired ones included until they are claimed again or dead-lettered); counted
   * only for a queue with a cap (else 0).
   */
  inFlight: number;
  /** Tokens in the bucket now; null without a rate limit. */
  tokens: number | null;
  /** When the bucket holds less than one job's cost: in how many ms it will hold enough. */
  nextTokenMs: number | null;
}

export async function flowUsage(db: Executor, t: QueueTables): Promise<FlowUsage> {
  const s = quoteIdent(t.schema);
  const { rows } = await db.query<LimitsRow & { in_flight: number; tokens_now: number | null }>(
    `SELECT ${LIMIT_COLUMNS.split(', ')
      .map((c) => `f.${c}`)
      .join(', ')},
       CASE WHEN f.max_in_flight IS NOT NULL
            THEN (SELECT count(*)::int FROM ${t.jobs} WHERE leased_until IS NOT NULL) ELSE 0 END AS in_flight,
       least(f.burst, coalesce(f.tokens, f.burst)
             + f.rate_per_sec * greatest(extract(epoch FROM clock_timestamp() - coalesce(f.tokens_at, clock_timestamp())), 0))
         AS tokens_now
     FROM (SELECT 1) one LEFT JOIN ${s}._flow_limits f ON f.queue = $1`,
    [t.queue],
  );
  const r = rows[0]!;
  const limits = toLimits(r.queue === null ? undefined : r);
  const tokens = limits.rate ? r.tokens_now : null;
  const nextTokenMs =
    limits.rate && tokens !== null && tokens < limits.rate.cost
      ? Math.ceil(((limits.rate.cost - tokens) / limits.rate.perSecond) * 1000)
      : null;
  return { limits, inFlight: r.in_flight, tokens, nextTokenMs };
}
