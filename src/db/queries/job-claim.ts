import { compareJobIds } from '../../core/ids.js';
import type { Executor } from '../executor.js';
import type { ClaimedRow } from '../rows.js';
import { quoteIdent, type QueueTables } from '../sql.js';

export interface ClaimParams {
  /** Jobs per group (1 for the ordinary claim). */
  perGroup: number;
  /** Maximum groups (or ungrouped jobs, for the ordinary claim). */
  groups: number;
  leaseMs: number;
  workerId: string | null;
  /** Batched mode: standalone jobs only (no parent, no snapshot). */
  standaloneOnly: boolean;
  /**
   * The queue has flow-control limits: the statement first admits (_flow_admit, migration 0006) and
   * takes no more than admitted. False or undefined: the statement of queues without limits, unchanged.
   */
  flow?: boolean;
  /**
   * The queue's limits have a per-key part (migration 0014): ungrouped jobs are taken key by key, in
   * weighted turns, by _flow_claim_keys. Only with `flow`.
   */
  keyed?: boolean;
}

/**
 * Claims visible jobs in one statement, without ever waiting for a lock.
 *
 * Ungrouped jobs: for each priority level (found by a loose index scan, so levels cost one probe each),
 * jobs whose run_at has passed, oldest due first, locked with SKIP LOCKED.
 *
 * Grouped jobs: groups whose ready_at has passed and that have no lease or retry in progress, walked by
 * priority level then by how long they have been ready, and taken one by one until `groups` are held.
 * Unready groups are never scanned: ready_at is indexed per priority level, so delayed, suspended or
 * waiting groups cannot starve ready ones. A group is taken when its row and its head job (the first job
 * in (priority, id) order that is due; one that used up its attempts and awaits dead-lettering holds its
 * group) can both be locked at once, with SKIP LOCKED, and still
 * qualify on their latest versions; otherwise the walk passes it by and goes on to the next group. So a
 * group held by someone else (an enqueue that had to write its row, an operator action, another claim)
 * or whose head is held (a replace in progress) costs the claim nothing, and the claim comes back short
 * only when no more claimable, unlocked work exists. Holding the group row is what keeps one claim at a
 * time per group, and so one job in flight per group and FIFO exact. A group visited without a runnable
 * head (its ready_at was a lower bound that turned out too early) is settled on the way: see
 * `_group_settle` in migration 0005.
 *
 * The claim bumps attempts (the fencing token), sets the lease and moves run_at to the lease expiry, so an
 * expired lease makes the job claimable again by the same index range.
 *
 * A claim that comes back short also says when the earliest job it could not take yet falls due (see
 * Claim.nextDueMs), in one extra row, so a worker can wake then rather than at its next poll.
 */
export async function jobClaim(db: Executor, t: QueueTables, p: ClaimParams): Promise<Claim> {
  const flow = p.flow === true;
  const keyed = flow && p.keyed === true;
  const { rows } = await db.query<ClaimedRow & { next_due_ms: number | null } & Partial<FlowColumns>>(
    claimSql(t, p.perGroup === 1, p.standaloneOnly, flow, keyed),
    [p.perGroup, p.groups, p.leaseMs, p.workerId, t.queue],
    `${t.statementPrefix}claim:${p.perGroup === 1 ? 'one' : 'batched'}:${p.standaloneOnly ? 's' : 'a'}${flow ? ':f' : ''}${keyed ? 'k' : ''}`,
  );
  // A last row without an id is not a job: the short claim's report of when the next job is due (and,
  // with flow control, always there: what was admitted).
  const last = rows.at(-1)?.id === null ? rows.pop()! : null;
  const nextDueMs = last?.next_due_ms ?? null;
  if (flow) {
    const admitted: FlowAdmitted = {
      allowed: last?.flow_allowed ?? 0,
      inFlight: last?.flow_in_flight ?? null,
      maxInFlight: last?.flow_max ?? null,
      tokenWaitMs: last?.flow_wait_ms ?? null,
      keyWaitMs: last?.flow_key_wait_ms ?? null,
      keysCapped: last?.flow_keys_capped ?? 0,
    };
    rows.sort((a, b) => a.priority - b.priority || compareJobIds(a.id, b.id));
    return { rows, nextDueMs, admitted };
  }
  rows.sort((a, b) => a.priority - b.priority || compareJobIds(a.id, b.id));
  return { rows, nextDueMs };
}

interface FlowColumns {
  flow_allowed: number | null;
  flow_in_flight: number | null;
  flow_max: number | null;
  flow_wait_ms: number | null;
  flow_key_wait_ms: number | null;
  flow_keys_capped: number | null;
}

/** What flow control admitted for a claim (see _flow_admit, migration 0006). */
export interface FlowAdmitted {
  allowed: number;
  inFlight: number | null;
  maxInFlight: number | null;
  /** Set when the bucket held the claim back: in how many ms the next job's tokens are there. */
  tokenWaitMs: number | null;
  /** Set when a key's bucket held the claim back: in how many ms the earliest such key has a token. */
  keyWaitMs: number | null;
  /** Keys at their concurrency limit that had work this claim could not start (0 without keys). */
  keysCapped: number;
}

export interface Claim {
  /** Only for a claim with flow control. */
  admitted?: FlowAdmitted;
  rows: ClaimedRow[];
  /**
   * When the claim came back short (fewer jobs than its limit): in how many ms, by the database's clock,
   * the queue's earliest job scheduled for later becomes claimable (a delayed job, a retry waiting out its
   * backoff, a lease running out). Null when none is, or when the claim was full.
   */
  nextDueMs: number | null;
}

/**
 * The claim statement. Parameters: $1 jobs per group, $2 groups (or ungrouped jobs), $3 lease ms,
 * $4 worker id, $5 queue name.
 *
 * With `flow` (a queue with flow-control limits), the statement first calls _flow_admit, which locks the
 * queue's limits row until the statement's transaction ends and, being volatile, counts the leases with
 * a snapshot taken after that lock; every LIMIT is capped by what it admitted. The scans below still use
 * the statement's own (earlier) snapshot, as every claim does: a job another claim took meanwhile fails
 * the recheck of its latest version when locked, and is passed by. Unused tokens go back
 * (_flow_refund), and one last row always reports what was admitted.
 */
export function claimSql(
  t: QueueTables,
  onePerGroup: boolean,
  standaloneOnly: boolean,
  flow = false,
  keyed = false,
): string {
  // A cut by the admission keeps a prefix of each group's batch: chosen orders a group's rows in FIFO order.
  const admitted = '(SELECT a.allowed FROM adm a)';
  const total = flow ? `least($1::int * $2::int, ${admitted})` : '$1::int * $2::int';
  const groupsLimit = flow ? `least($2::int, ${admitted})` : '$2';
  const admCte = flow
    ? `adm AS MATERIALIZED (SELECT * FROM ${quoteIdent(t.schema)}._flow_admit($5, $1::int * $2::int)),`
    : '';
  const standalone = standaloneOnly ? 'AND x.parent_id IS NULL AND x.parent_state IS NULL' : '';
  const runnable = (a: string) =>
    `NOT ${a}.suspended AND ${a}.run_at <= now() AND ${a}.attempts < ${a}.max_attempts`;
  // A group's head: its first job due now, including one that used up its attempts and waits for the
  // reaper to dead-letter it (a final attempt whose lease ran out): that job still holds its group (the
  // lock below finds it not runnable and passes the group by), so the next job cannot start before it
  // is resolved. Delayed jobs are not due, and do not hold the group.
  const due = (a: string) => `NOT ${a}.suspended AND ${a}.run_at <= now()`;
  const groupFree = (a: string) =>
    `${a}.ready_at <= now() AND (${a}.in_flight_until IS NULL OR ${a}.in_flight_until <= now())`;
  const ungroupedLimit = onePerGroup
    ? groupsLimit
    : '($2::int - (SELECT count(DISTINCT group_key) FROM ok)) * $1::int';
  // Batched mode: after its head, up to $1 - 1 more jobs of each group taken, in FIFO order, as long as
  // each of them can be locked too (a job someone holds ends the group's batch there).
  const more = onePerGroup
    ? ''
    : `more AS (
      SELECT m.id, m.priority, gr.sort_at, gr.group_key, m.rn FROM grabbed gr CROSS JOIN LATERAL (
        SELECT x.id, x.priority, row_number() OVER (ORDER BY x.priority, x.id) AS rn FROM ${t.jobs} x
        WHERE x.group_key = gr.group_key AND (x.priority, x.id) > (gr.priority, gr.id) AND ${runnable('x')}
          ${standalone}
        ORDER BY x.priority, x.id
        LIMIT $1::int - 1
      ) m
    ),
    more_locked AS (
      SELECT x.id FROM ${t.jobs} x WHERE x.id IN (SELECT id FROM more) AND ${runnable('x')}
      FOR NO KEY UPDATE SKIP LOCKED
    ),`;
  const ok = onePerGroup
    ? 'ok AS (SELECT id, priority, sort_at, group_key FROM grabbed),'
    : `ok AS (
      SELECT id, priority, sort_at, group_key FROM grabbed
      UNION ALL
      SELECT m.id, m.priority, m.sort_at, m.group_key FROM more m
      WHERE NOT EXISTS (
        SELECT 1 FROM more m2 WHERE m2.group_key = m.group_key AND m2.rn <= m.rn
          AND NOT EXISTS (SELECT 1 FROM more_locked l WHERE l.id = m2.id))
    ),`;
  // Ungrouped jobs: by priority level and due time; in a keyed queue, key by key in weighted turns
  // (_flow_claim_keys, migration 0014), with what the grouped jobs left of the admitted total.
  const ung = keyed
    ? `kc AS MATERIALIZED (
      SELECT * FROM ${quoteIdent(t.schema)}._flow_claim_keys($5, ${total} - (SELECT count(*)::int FROM ok), ${standaloneOnly})
    ),
    ung AS (SELECT id, priority, sort_at FROM kc WHERE id IS NOT NULL),`
    : `    ung AS (
      SELECT u.id, u.priority, u.run_at AS sort_at FROM lv CROSS JOIN LATERAL (
        SELECT x.id, x.priority, x.run_at FROM ${t.jobs} x
        WHERE x.group_key IS NULL AND x.priority = lv.p AND x.run_at >= lv.r AND ${runnable('x')} ${standalone}
        ORDER BY x.run_at, x.id
        LIMIT ${ungroupedLimit}
        FOR NO KEY UPDATE SKIP LOCKED
      ) u
      WHERE lv.p IS NOT NULL
      LIMIT ${ungroupedLimit}
    ),`;
  return `
    WITH RECURSIVE
    ${admCte}
    -- A paused queue claims nothing (enqueue still works).
    paused AS (SELECT 1 FROM ${t.registry} r WHERE r.name = $5 AND r.paused),
    -- The priority levels with work, by a loose index scan. Each probe also returns the first key of its
    -- level that this statement's snapshot sees (run_at for jobs, ready_at for groups), and the scans
    -- below start there: nothing before it is visible to this statement, so the bound changes no result,
    -- but while an old transaction holds back cleanup (an application's open transaction, a long report),
    -- the index entries of finished and claimed jobs before it cannot be removed, and without the bound
    -- every claim walked them twice: once in the probe, once in the scan.
    lv(p, r) AS (
      (SELECT x.priority, x.run_at FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
         AND NOT EXISTS (SELECT 1 FROM paused) ORDER BY x.priority, x.run_at LIMIT 1)
      UNION ALL
      SELECT n.priority, n.run_at FROM lv CROSS JOIN LATERAL (
        SELECT x.priority, x.run_at FROM ${t.jobs} x
        WHERE x.group_key IS NULL AND NOT x.suspended AND x.priority > lv.p
        ORDER BY x.priority, x.run_at LIMIT 1
      ) n
    ),
    glv(p, r) AS (
      (SELECT g.min_priority, g.ready_at FROM ${t.groups} g WHERE g.ready_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM paused) ORDER BY g.min_priority, g.ready_at LIMIT 1)
      UNION ALL
      SELECT n.min_priority, n.ready_at FROM glv CROSS JOIN LATERAL (
        SELECT g.min_priority, g.ready_at FROM ${t.groups} g
        WHERE g.ready_at IS NOT NULL AND g.min_priority > glv.p
        ORDER BY g.min_priority, g.ready_at LIMIT 1
      ) n
    ),
    -- The group walk. Every step is a nested loop evaluated only as far as the LIMIT pulls it:
    --   c   the next candidate group, in (level, ready_at) order, as this statement's snapshot sees it;
    --   h   its head job in that snapshot; when it has none, the second branch settles the group (a
    --       function that locks the row with SKIP LOCKED and recomputes it) and yields no row;
    --   gl  the group row, locked, still ready and free on its latest version;
    --   hl  the head job, locked, still runnable on its latest version.
    grabbed AS (
      SELECT hl.id, h.priority, c.ready_at AS sort_at, c.group_key FROM glv
      CROSS JOIN LATERAL (
        SELECT g.group_key, g.ready_at FROM ${t.groups} g
        WHERE g.ready_at IS NOT NULL AND g.min_priority = glv.p AND g.ready_at >= glv.r AND ${groupFree('g')}
        ORDER BY g.ready_at
      ) c
      CROSS JOIN LATERAL (
        (SELECT x.id, x.priority FROM ${t.jobs} x
         WHERE x.group_key = c.group_key AND ${due('x')} ${standalone}
         ORDER BY x.priority, x.id
         LIMIT 1)
        UNION ALL
        SELECT NULL::bigint, NULL::smallint
        WHERE ${quoteIdent(t.schema)}._group_settle($5, c.group_key)
        LIMIT 1
      ) h
      CROSS JOIN LATERAL (
        SELECT 1 FROM ${t.groups} gl WHERE gl.group_key = c.group_key AND ${groupFree('gl')}
        FOR NO KEY UPDATE SKIP LOCKED
      ) gl
      CROSS JOIN LATERAL (
        SELECT x.id FROM ${t.jobs} x WHERE x.id = h.id AND ${runnable('x')}
        FOR NO KEY UPDATE SKIP LOCKED
      ) hl
      WHERE glv.p IS NOT NULL
      LIMIT ${groupsLimit}
    ),
    ${more}
    ${ok}
    ${ung}
    chosen AS (
      SELECT c.id FROM (
        SELECT id, priority, sort_at FROM ok
        UNION ALL
        SELECT id, priority, sort_at FROM ung
      ) c
      ORDER BY c.priority, c.sort_at, c.id
      LIMIT ${total}
    ),
    -- Every row written here is already locked by this statement (the jobs, and through the lease
    -- trigger their group rows), so the update cannot wait.
    claimed AS (
    UPDATE ${t.jobs} j SET
      attempts = j.attempts + 1,
      leased_until = now() + $3::bigint * interval '1 millisecond',
      run_at = now() + $3::bigint * interval '1 millisecond',
      claimed_at = now(),
      worker_id = $4,
      updated_at = now()
    -- An id array, not a join: the rows are always fetched through the primary key (a join let the planner
    -- hash the whole table for a large claim).
    WHERE j.id = ANY (ARRAY(SELECT id FROM chosen))
    RETURNING ${CLAIMED_COLUMNS}
    ),
    -- The earliest time a job not claimable yet becomes so: per priority level, the first run_at still
    -- ahead (one probe of the claim index), and the first group ready_at still ahead. Read only when the
    -- claim came back short, so a worker can wake then instead of at its next poll.
    next_due AS (
      SELECT min(d.at) AS at FROM (
        SELECT (SELECT x.run_at FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
                  AND x.priority = lv.p AND x.run_at > now() AND x.run_at >= lv.r ORDER BY x.run_at LIMIT 1) AS at
        FROM lv WHERE lv.p IS NOT NULL
        UNION ALL
        SELECT (SELECT g.ready_at FROM ${t.groups} g WHERE g.ready_at IS NOT NULL AND g.min_priority = glv.p
                  AND g.ready_at > now() ORDER BY g.ready_at LIMIT 1)
        FROM glv WHERE glv.p IS NOT NULL
      ) d
    )
    ${
      flow
        ? FLOW_TAIL(t, total, keyed)
        : `SELECT c.*, NULL::float8 AS next_due_ms FROM claimed c
    UNION ALL
    SELECT ${CLAIMED_NULLS}, (extract(epoch FROM nd.at - now()) * 1000)::float8
    FROM next_due nd
    WHERE nd.at IS NOT NULL AND (SELECT count(*) FROM claimed) < ${total}`
    }`;
}

/**
 * A flow-controlled claim's last part: the jobs, then one row, always, with when the next job is due (when
 * short) and what was admitted; reading it gives back the tokens admitted but not used (its argument
 * reads `claimed`, so the claim's update has run to completion first).
 */
const FLOW_TAIL = (t: QueueTables, total: string, keyed: boolean) => `
    SELECT c.*, NULL::float8 AS next_due_ms, NULL::int AS flow_allowed, NULL::int AS flow_in_flight,
           NULL::int AS flow_max, NULL::float8 AS flow_wait_ms, NULL::float8 AS flow_key_wait_ms,
           NULL::int AS flow_keys_capped
    FROM claimed c
    UNION ALL
    SELECT ${CLAIMED_NULLS},
      CASE WHEN nd.at IS NOT NULL AND (SELECT count(*) FROM claimed) < ${total}
           THEN (extract(epoch FROM nd.at - now()) * 1000)::float8 END,
      a.allowed, a.in_flight, a.max_in_flight,
      CASE WHEN (SELECT count(*) FROM claimed) >= a.allowed THEN a.token_wait_ms END,
      ${keyed ? '(SELECT min(k.wait_ms) FROM kc k WHERE k.id IS NULL), (SELECT max(k.capped) FROM kc k WHERE k.id IS NULL)' : 'NULL::float8, NULL::int'}
    FROM adm a CROSS JOIN next_due nd
    CROSS JOIN LATERAL (
      SELECT ${quoteIdent(t.schema)}._flow_refund($5, a.allowed - (SELECT count(*)::int FROM claimed))
    ) r`;

/**
 * The columns a claim sends back: the claim itself sets the others to values known here. Every claimed
 * row carries the same statement time in four columns and the worker's id; formatting and parsing them
 * for each of hundreds of rows was a sizeable share of a claim's cost on both sides of the wire.
 */
const CLAIMED_COLUMNS = `j.id, j.payload, j.group_key, j.priority, j.leased_until, j.attempts, j.max_attempts,
    j.last_error, j.dedup_key, j.idempotency_key, j.parent_id, j.is_rollup, j.parent_state, j.meta, j.created_at`;

/** One NULL per claimed column: the shape of the short claim's next-due row. */
const CLAIMED_NULLS = CLAIMED_COLUMNS.split(',')
  .map(() => 'NULL')
  .join(', ');
