import type { StoreHost } from '../store/host.js';
import { effectiveRetention, type Retention } from '../core/retention.js';
import {
  deadLetterCountCut,
  historyCountCut,
  pruneDeadLettersByAge,
  pruneDeadLettersTo,
  pruneHistoryByAge,
  pruneHistoryTo,
  retentionStored,
  type CountCut,
} from '../db/queries/retention.js';
import { jobAttemptsPruneByAge } from '../db/queries/job-attempts.js';
import { jobProgressPruneByAge } from '../db/queries/job-progress.js';
import { jobFinalReportsPruneByAge } from '../db/queries/job-final-reports.js';
import { queueStatsPrune } from '../db/queries/queue-stats.js';
import { eventPrune, stepSweepOrphans, stepSweepPlan } from '../db/queries/steps.js';
import { queueTables, type QueueTables } from '../db/sql.js';
import type { Executor } from '../db/executor.js';
import type { WorkerEventEmitter } from './events.js';

const UNDEFINED_TABLE = '42P01';

/** Rows one DELETE removes at most: short statements, short locks, small WAL bursts. */
export const RETENTION_BATCH_ROWS = 500;
/** Rows one maintenance round removes at most, across all queues; the rest waits for the next round. */
export const RETENTION_ROUND_ROWS = 5_000;

export type PrunedTable = 'history' | 'dead-letters' | 'reports' | 'attempts' | 'stats' | 'steps';

/** `gone`: rows of jobs no longer anywhere (queue, history, dead letters), such as durable steps. */
export type PruneReason = 'age' | 'count' | 'gone';

export interface PruneReport {
  queue: string;
  table: PrunedTable;
  reason: PruneReason;
  count: number;
}

/**
 * One kind of pruning. `plan` reads what the limit means now (the age, or where the count limit cuts,
 * null: nothing to do), once per round; `run` deletes one batch of what the plan covers.
 */
interface Step<Plan> {
  table: PrunedTable;
  reason: PruneReason;
  limit(r: Retention): number | null;
  plan(db: Executor, t: QueueTables, limit: number): Promise<Plan | null>;
  // A method, so a step with a particular plan type fits a list of steps of unknown plans.
  run(db: Executor, t: QueueTables, plan: Plan, batch: number): Promise<number>;
}

const byAge = async (_db: Executor, _t: QueueTables, maxAgeMs: number) => maxAgeMs;

/**
 * What jobs reported (and their failed attempts) is shown with their history rows and dead letters, so it
 * is kept as long as the longer of the two ages (forever when either has no age limit).
 */
const reportAge = (r: Retention): number | null =>
  r.historyMaxAgeMs === null || r.deadLetterMaxAgeMs === null
    ? null
    : Math.max(r.historyMaxAgeMs, r.deadLetterMaxAgeMs);

// Age first: it is the cheaper cut, and what it removes no longer counts against the count limit.
const STEPS: readonly Step<unknown>[] = [
  { table: 'history', reason: 'age', limit: (r) => r.historyMaxAgeMs, plan: byAge, run: pruneHistoryByAge },
  {
    table: 'history',
    reason: 'count',
    limit: (r) => r.historyMaxCount,
    plan: historyCountCut,
    run: pruneHistoryTo,
  } satisfies Step<CountCut>,
  {
    table: 'dead-letters',
    reason: 'age',
    limit: (r) => r.deadLetterMaxAgeMs,
    plan: byAge,
    run: pruneDeadLettersByAge,
  },
  {
    table: 'dead-letters',
    reason: 'count',
    limit: (r) => r.deadLetterMaxCount,
    plan: deadLetterCountCut,
    run: pruneDeadLettersTo,
  } satisfies Step<CountCut>,
  { table: 'reports', reason: 'age', limit: reportAge, plan: byAge, run: jobProgressPruneByAge },
  // The last reports acks carried, in shared rows (counted as rows, like every table here).
  { table: 'reports', reason: 'age', limit: reportAge, plan: byAge, run: jobFinalReportsPruneByAge },
  { table: 'attempts', reason: 'age', limit: reportAge, plan: byAge, run: jobAttemptsPruneByAge },
  {
    table: 'steps',
    reason: 'gone',
    limit: () => 0,
    plan: (db, t) => stepSweepPlan(db, t),
    run: (db, t, plan, batch) => stepSweepOrphans(db, t, plan.withHistory, batch),
  } satisfies Step<{ withHistory: boolean }>,
];

/** Events no job waits for are kept (latched) this long after their last emit. */
export const EVENT_MAX_AGE_MS = 7 * 24 * 3_600_000;

/**
 * Finding where a count limit cuts reads up to that many index entries, so a table found within its
 * count limit is looked at again only after this long (a table over it, every round until it is not;
 * a limit just changed, in the next round).
 */
export const COUNT_CHECK_INTERVAL_MS = 60_000;

export interface RetentionPrunerOptions {
  arbiter: StoreHost;
  events: WorkerEventEmitter;
  /** Rows per DELETE. Default RETENTION_BATCH_ROWS. */
  batchRows?: number;
  /** Rows per round, across queues. Default RETENTION_ROUND_ROWS. */
  roundRows?: number;
}

/**
 * Applies each queue's retention (stored in the queue registry; see core/retention.ts) for the maintenance
 * leader. A round deletes in batches of `batchRows` and stops after `roundRows`; the next round starts at
 * the queue where this one stopped, so a large backlog is worked off over several rounds and every queue
 * gets its turn. Each table and reason that lost rows is reported as a `maintenance:pruned` event.
 */
export class RetentionPruner {
  private nextQueue: string | undefined;
  /** When each queue's count limits were last found to remove nothing (performance.now()). */
  private readonly countCheckedAt = new Map<string, number>();
  private readonly batchRows: number;
  private readonly roundRows: number;

  constructor(private readonly o: RetentionPrunerOptions) {
    this.batchRows = o.batchRows ?? RETENTION_BATCH_ROWS;
    this.roundRows = o.roundRows ?? RETENTION_ROUND_ROWS;
  }

  /**
   * One round. `stopped` is checked between statements, so a stopping worker is not held up. `only`: the
   * queues that may have rows to prune (the others are left for a later round).
   */
  async round(stopped: () => boolean = () => false, only?: ReadonlySet<string>): Promise<PruneReport[]> {
    const { arbiter, events } = this.o;
    const reports: PruneReport[] = [];
    let budget = this.roundRows;
    const stored = await retentionStored(arbiter.db, arbiter.schema);
    const queues = stored.filter((q) => !only || only.has(q.name));
    // The throughput history first, of every queue (not only those `only` names: they all have rows), in
    // one statement per batch: each queue's rows past its statsMaxAgeMs.
    const statsLimits = new Map<string, number>();
    for (const q of stored) {
      const maxAge = effectiveRetention(q.retention).statsMaxAgeMs;
      if (maxAge !== null) statsLimits.set(q.name, maxAge);
    }
    const statsPruned = new Map<string, number>();
    while (budget > 0 && !stopped()) {
      const asked = Math.min(this.batchRows, budget);
      let n = 0;
      for (const [queue, count] of await queueStatsPrune(arbiter.db, arbiter.schema, statsLimits, asked)) {
        statsPruned.set(queue, (statsPruned.get(queue) ?? 0) + count);
        n += count;
      }
      budget -= n;
      if (n < asked) break;
    }
    for (const [queue, count] of [...statsPruned].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const report: PruneReport = { queue, table: 'stats', reason: 'age', count };
      reports.push(report);
      events.emit('maintenance:pruned', report);
    }
    if (queues.length === 0 || budget <= 0) return reports;
    // Start where the previous round ran out of budget (or at the next queue after it, in name order).
    let start = 0;
    if (this.nextQueue !== undefined) {
      const at = queues.findIndex((q) => q.name >= this.nextQueue!);
      start = at < 0 ? 0 : at;
    }
    this.nextQueue = undefined;
    const dropped = new Set<string>();
    const now = performance.now();
    let current = '';
    // A queue dropped since the list was read has no tables left: nothing to prune there.
    const skipDropped = (err: unknown): null => {
      if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
      dropped.add(current);
      return null;
    };
    for (let i = 0; i < queues.length; i++) {
      const { name, retention } = queues[(start + i) % queues.length]!;
      current = name;
      const limits = effectiveRetention(retention);
      const t = queueTables(arbiter.schema, name);
      for (const step of STEPS) {
        if (dropped.has(name)) break;
        const limit = step.limit(limits);
        if (limit === null) continue;
        // Keyed by the limit too: a limit just changed is looked at in the next round.
        const key = `${name}:${step.table}:${step.reason}:${limit}`;
        // Count cuts and sweeps read more than they delete: one that removed nothing rests a while.
        if (
          step.reason !== 'age' &&
          (this.countCheckedAt.get(key) ?? -Infinity) > now - COUNT_CHECK_INTERVAL_MS
        )
          continue;
        let count = 0;
        const plan = await step.plan(arbiter.db, t, limit).catch(skipDropped);
        while (plan !== null && budget > 0 && !stopped()) {
          const asked = Math.min(this.batchRows, budget);
          const n = await step.run(arbiter.db, t, plan, asked).catch(skipDropped);
          count += n ?? 0;
          budget -= n ?? 0;
          if (n === null || n < asked) break; // this step is done for now
        }
        // A count limit that removed nothing (within the limit, or the rest is protected) rests a while.
        if (step.reason !== 'age') {
          if (count === 0) this.countCheckedAt.set(key, now);
          else this.countCheckedAt.delete(key);
        }
        if (count > 0) {
          const report = { queue: name, table: step.table, reason: step.reason, count };
          reports.push(report);
          events.emit('maintenance:pruned', report);
        }
        if (budget <= 0 || stopped()) {
          this.nextQueue = name;
          return reports;
        }
      }
    }
    // Events are schema-wide: one batch a round.
    if (budget > 0 && !stopped())
      await eventPrune(arbiter.db, arbiter.schema, EVENT_MAX_AGE_MS, Math.min(this.batchRows, budget));
    return reports;
  }
}
