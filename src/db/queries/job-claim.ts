import { compareJobIds } from '../../core/ids.js';
import type { Executor } from '../executor.js';
import type { ClaimedRow } from '../rows.js';
import type { QueueTables } from '../sql.js';
import { lockGroupsSql } from './group-lock.js';

export interface ClaimParams {
  /** Jobs per group (1 for the ordinary claim). */
  perGroup: number;
  /** Maximum groups (or ungrouped jobs, for the ordinary claim). */
  groups: number;
  leaseMs: number;
  workerId: string | null;
  /** Batched mode: standalone jobs only (no parent, no snapshot). */
  standaloneOnly: boolean;
}

/**
 * Claims visible jobs in one statement.
 *
 * Ungrouped jobs: for each priority level (found by a loose index scan, so levels cost one probe each),
 * jobs whose run_at has passed, oldest due first, locked with SKIP LOCKED.
 *
 * Grouped jobs: groups whose ready_at has passed and that have no lease or retry in progress, by priority
 * level then by how long they have been ready; from each, the head job(s) in (priority, id) order among the
 * jobs that can run now. Unready groups are never scanned: ready_at is indexed per priority level, so
 * delayed, suspended or waiting groups cannot starve ready ones. Group rows are read, not locked (inserters
 * hold them briefly and a hot group must stay claimable); mutual exclusion comes from locking the head
 * job row with SKIP LOCKED and re-checking it on its latest version. A group whose head is locked or no
 * longer runnable is skipped as a whole (never the job behind it), which keeps one job in flight per group
 * and FIFO exact.
 * Groups that turned out to have nothing runnable get their ready_at recomputed in the same statement.
 *
 * The claim bumps attempts (the fencing token), sets the lease and moves run_at to the lease expiry, so an
 * expired lease makes the job claimable again by the same index range.
 *
 * A claim that comes back short also says when the earliest job it could not take yet falls due (see
 * Claim.nextDueMs), in one extra row, so a worker can wake then rather than at its next poll.
 */
export async function jobClaim(db: Executor, t: QueueTables, p: ClaimParams): Promise<Claim> {
  const { rows } = await db.query<ClaimedRow & { next_due_ms: number | null }>(
    claimSql(t, p.perGroup === 1, p.standaloneOnly),
    [p.perGroup, p.groups, p.leaseMs, p.workerId, t.queue],
    `${t.statementPrefix}claim:${p.perGroup === 1 ? 'one' : 'batched'}:${p.standaloneOnly ? 's' : 'a'}`,
  );
  // A last row without an id is not a job: the short claim's report of when the next job is due.
  const nextDueMs = rows.at(-1)?.id === null ? rows.pop()!.next_due_ms : null;
  rows.sort((a, b) => a.priority - b.priority || compareJobIds(a.id, b.id));
  return { rows, nextDueMs };
}

export interface Claim {
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
 */
export function claimSql(t: QueueTables, onePerGroup: boolean, standaloneOnly: boolean): string {
  const standalone = standaloneOnly ? 'AND x.parent_id IS NULL AND x.parent_state IS NULL' : '';
  const ungroupedLimit = onePerGroup
    ? '$2'
    : '($2::int - (SELECT count(DISTINCT group_key) FROM ok)) * $1::int';
  return `
    WITH RECURSIVE
    -- A paused queue claims nothing (enqueue still works).
    paused AS (SELECT 1 FROM ${t.registry} r WHERE r.name = $5 AND r.paused),
    lv(p) AS (
      (SELECT x.priority FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
         AND NOT EXISTS (SELECT 1 FROM paused) ORDER BY x.priority LIMIT 1)
      UNION ALL
      SELECT (SELECT x.priority FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended AND x.priority > lv.p
              ORDER BY x.priority LIMIT 1)
      FROM lv WHERE lv.p IS NOT NULL
    ),
    glv(p) AS (
      (SELECT g.min_priority FROM ${t.groups} g WHERE g.ready_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM paused) ORDER BY g.min_priority LIMIT 1)
      UNION ALL
      SELECT (SELECT g.min_priority FROM ${t.groups} g WHERE g.ready_at IS NOT NULL AND g.min_priority > glv.p
              ORDER BY g.min_priority LIMIT 1)
      FROM glv WHERE glv.p IS NOT NULL
    ),
    picked AS (
      SELECT pg.group_key, pg.ready_at, pg.xv FROM glv CROSS JOIN LATERAL (
        SELECT g.group_key, g.ready_at, g.xmin::text AS xv FROM ${t.groups} g
        WHERE g.ready_at IS NOT NULL AND g.min_priority = glv.p AND g.ready_at <= now()
          AND (g.in_flight_until IS NULL OR g.in_flight_until <= now())
        ORDER BY g.ready_at
        LIMIT $2
      ) pg
      WHERE glv.p IS NOT NULL
      LIMIT $2
    ),
    heads AS (
      SELECT h.id, h.priority, picked.group_key, picked.ready_at, h.rn FROM picked CROSS JOIN LATERAL (
        SELECT x.id, x.priority, row_number() OVER (ORDER BY x.priority, x.id) AS rn FROM ${t.jobs} x
        WHERE x.group_key = picked.group_key AND NOT x.suspended AND x.run_at <= now()
          AND x.attempts < x.max_attempts ${standalone}
        ORDER BY x.priority, x.id
        LIMIT $1
      ) h
    ),
    locked AS (
      SELECT x.id FROM ${t.jobs} x
      WHERE x.id IN (SELECT id FROM heads) AND NOT x.suspended AND x.run_at <= now() AND x.attempts < x.max_attempts
      FOR UPDATE SKIP LOCKED
    ),
    ok AS (
      SELECT h.id, h.priority, h.ready_at AS sort_at, h.group_key FROM heads h
      WHERE NOT EXISTS (
        SELECT 1 FROM heads h2 WHERE h2.group_key = h.group_key AND h2.rn <= h.rn
          AND NOT EXISTS (SELECT 1 FROM locked l WHERE l.id = h2.id))
    ),
    ung AS (
      SELECT u.id, u.priority, u.run_at AS sort_at FROM lv CROSS JOIN LATERAL (
        SELECT x.id, x.priority, x.run_at FROM ${t.jobs} x
        WHERE x.group_key IS NULL AND NOT x.suspended AND x.priority = lv.p AND x.run_at <= now()
          AND x.attempts < x.max_attempts ${standalone}
        ORDER BY x.run_at, x.id
        LIMIT ${ungroupedLimit}
        FOR UPDATE SKIP LOCKED
      ) u
      WHERE lv.p IS NOT NULL
      LIMIT ${ungroupedLimit}
    ),
    chosen AS (
      SELECT c.id FROM (
        SELECT id, priority, sort_at FROM ok
        UNION ALL
        SELECT id, priority, sort_at FROM ung
      ) c
      ORDER BY c.priority, c.sort_at, c.id
      LIMIT $1::int * $2::int
    ),
    -- A group whose head turned out not to be runnable gets its ready_at recomputed. Only when its row
    -- is unchanged since this statement's snapshot (same xmin, re-checked on the latest row version):
    -- otherwise a commit in between (an insert, a resume) may have added work this snapshot cannot see.
    repair_targets AS (
      SELECT p.group_key FROM picked p WHERE p.group_key NOT IN (SELECT group_key FROM heads)
    ),
    -- Group rows to write: the claimed groups (through the lease trigger) and the repaired ones, locked
    -- together in one sorted pass before any write, like every multi-group statement.
    lock_targets AS (
      SELECT group_key FROM repair_targets
      UNION
      SELECT ok.group_key FROM ok WHERE ok.id IN (SELECT id FROM chosen)
    ),
    group_locks AS (${lockGroupsSql(t, 'lock_targets')}),
    repaired AS (
      UPDATE ${t.groups} g SET ready_at = (
        SELECT min(greatest(x.run_at, g.in_flight_until)) FROM ${t.jobs} x
        WHERE x.group_key = g.group_key AND NOT x.suspended AND x.attempts < x.max_attempts)
      FROM picked p
      WHERE g.group_key = p.group_key AND g.xmin::text = p.xv
        AND p.group_key IN (SELECT group_key FROM repair_targets)
        AND (SELECT count(*) FROM group_locks) >= 0
      RETURNING g.group_key
    ),
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
    WHERE j.id = ANY (ARRAY(SELECT id FROM chosen)) AND (SELECT count(*) FROM group_locks) >= 0
    RETURNING ${CLAIMED_COLUMNS}
    ),
    -- The earliest time a job not claimable yet becomes so: per priority level, the first run_at still
    -- ahead (one probe of the claim index), and the first group ready_at still ahead. Read only when the
    -- claim came back short, so a worker can wake then instead of at its next poll.
    next_due AS (
      SELECT min(d.at) AS at FROM (
        SELECT (SELECT x.run_at FROM ${t.jobs} x WHERE x.group_key IS NULL AND NOT x.suspended
                  AND x.priority = lv.p AND x.run_at > now() ORDER BY x.run_at LIMIT 1) AS at
        FROM lv WHERE lv.p IS NOT NULL
        UNION ALL
        SELECT (SELECT g.ready_at FROM ${t.groups} g WHERE g.ready_at IS NOT NULL AND g.min_priority = glv.p
                  AND g.ready_at > now() ORDER BY g.ready_at LIMIT 1)
        FROM glv WHERE glv.p IS NOT NULL
      ) d
    )
    SELECT c.*, NULL::float8 AS next_due_ms FROM claimed c
    UNION ALL
    SELECT ${CLAIMED_NULLS}, (extract(epoch FROM nd.at - now()) * 1000)::float8
    FROM next_due nd
    WHERE nd.at IS NOT NULL AND (SELECT count(*) FROM claimed) < $1::int * $2::int`;
}

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
