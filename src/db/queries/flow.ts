import { NO_LIMITS, type CheckedLimitsPatch, type QueueLimits } from '../../core/flow-limits.js';
import type { Executor } from '../executor.js';
import { quoteIdent, type QueueTables } from '../sql.js';

// Flow-control limits (migration 0006): one row of <schema>._flow_limits per queue that has any.

interface LimitsRow {
  queue: string;
  max_in_flight: number | null;
  rate_per_sec: number | null;
  burst: number | null;
  cost: number;
}

const LIMIT_COLUMNS = 'queue, max_in_flight, rate_per_sec, burst, cost';

function toLimits(r: LimitsRow | undefined): QueueLimits {
  if (!r) return NO_LIMITS;
  return {
    maxInFlight: r.max_in_flight,
    rate:
      r.rate_per_sec === null || r.burst === null
        ? null
        : { perSecond: r.rate_per_sec, burst: r.burst, cost: r.cost },
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
    `SELECT q.name AS found, f.queue, f.max_in_flight, f.rate_per_sec, f.burst, f.cost
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
 */
export async function flowLimitsSet(
  db: Executor,
  schema: string,
  queue: string,
  patch: CheckedLimitsPatch,
): Promise<QueueLimits | undefined> {
  const s = quoteIdent(schema);
  return db.transaction(async (tx) => {
    const q = await tx.query(`SELECT 1 FROM ${s}._queues WHERE name = $1 FOR KEY SHARE`, [queue]);
    if (q.rowCount === 0) return undefined;
    const { rows } = await tx.query<LimitsRow>(
      `SELECT ${LIMIT_COLUMNS} FROM ${s}._flow_limits WHERE queue = $1 FOR UPDATE`,
      [queue],
    );
    const cur = toLimits(rows[0]);
    const next: QueueLimits = {
      maxInFlight: patch.maxInFlight === undefined ? cur.maxInFlight : patch.maxInFlight,
      rate: patch.rate === undefined ? cur.rate : patch.rate,
    };
    if (next.maxInFlight === null && next.rate === null) {
      await tx.query(`DELETE FROM ${s}._flow_limits WHERE queue = $1`, [queue]);
      return next;
    }
    const r = next.rate;
    await tx.query(
      `INSERT INTO ${s}._flow_limits AS f (queue, max_in_flight, rate_per_sec, burst, cost, tokens, tokens_at)
       VALUES ($1, $2, $3, $4, coalesce($5, 1), NULL, NULL)
       ON CONFLICT (queue) DO UPDATE SET
         max_in_flight = EXCLUDED.max_in_flight,
         rate_per_sec = EXCLUDED.rate_per_sec,
         burst = EXCLUDED.burst,
         cost = EXCLUDED.cost,
         tokens = CASE WHEN (f.rate_per_sec, f.cost) IS NOT DISTINCT FROM (EXCLUDED.rate_per_sec, EXCLUDED.cost)
                       THEN least(f.tokens, EXCLUDED.burst) END,
         tokens_at = CASE WHEN (f.rate_per_sec, f.cost) IS NOT DISTINCT FROM (EXCLUDED.rate_per_sec, EXCLUDED.cost)
                          THEN f.tokens_at END,
         updated_at = now()`,
      [queue, next.maxInFlight, r?.perSecond ?? null, r?.burst ?? null, r?.cost ?? null],
    );
    return next;
  });
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
    `SELECT f.queue, f.max_in_flight, f.rate_per_sec, f.burst, f.cost,
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
