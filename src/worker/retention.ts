import type { Arbiter } from '../client/arbiter.js';
import { effectiveRetention, type Retention } from '../core/retention.js';
import {
  pruneDeadLettersByAge,
  pruneDeadLettersByCount,
  pruneHistoryByAge,
  pruneHistoryByCount,
  retentionStored,
} from '../db/queries/retention.js';
import { queueTables, type QueueTables } from '../db/sql.js';
import type { Executor } from '../db/executor.js';
import type { WorkerEventEmitter } from './events.js';

const UNDEFINED_TABLE = '42P01';

/** Rows one DELETE removes at most: short statements, short locks, small WAL bursts. */
export const RETENTION_BATCH_ROWS = 500;
/** Rows one maintenance round removes at most, across all queues; the rest waits for the next round. */
export const RETENTION_ROUND_ROWS = 5_000;

export type PrunedTable = 'history' | 'dead-letters';
export type PruneReason = 'age' | 'count';

export interface PruneReport {
  queue: string;
  table: PrunedTable;
  reason: PruneReason;
  count: number;
}

interface Step {
  table: PrunedTable;
  reason: PruneReason;
  limit: (r: Retention) => number | null;
  run: (db: Executor, t: QueueTables, limit: number, batch: number) => Promise<number>;
}

// Age first: it is the cheaper cut, and what it removes no longer counts against the count limit.
const STEPS: readonly Step[] = [
  { table: 'history', reason: 'age', limit: (r) => r.historyMaxAgeMs, run: pruneHistoryByAge },
  { table: 'history', reason: 'count', limit: (r) => r.historyMaxCount, run: pruneHistoryByCount },
  { table: 'dead-letters', reason: 'age', limit: (r) => r.deadLetterMaxAgeMs, run: pruneDeadLettersByAge },
  {
    table: 'dead-letters',
    reason: 'count',
    limit: (r) => r.deadLetterMaxCount,
    run: pruneDeadLettersByCount,
  },
];

export interface RetentionPrunerOptions {
  arbiter: Arbiter;
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
  private readonly batchRows: number;
  private readonly roundRows: number;

  constructor(private readonly o: RetentionPrunerOptions) {
    this.batchRows = o.batchRows ?? RETENTION_BATCH_ROWS;
    this.roundRows = o.roundRows ?? RETENTION_ROUND_ROWS;
  }

  /** One round. `stopped` is checked between statements, so a stopping worker is not held up. */
  async round(stopped: () => boolean = () => false): Promise<PruneReport[]> {
    const { arbiter, events } = this.o;
    const queues = await retentionStored(arbiter.db, arbiter.schema);
    if (queues.length === 0) return [];
    // Start where the previous round ran out of budget (or at the next queue after it, in name order).
    let start = 0;
    if (this.nextQueue !== undefined) {
      const at = queues.findIndex((q) => q.name >= this.nextQueue!);
      start = at < 0 ? 0 : at;
    }
    this.nextQueue = undefined;
    const reports: PruneReport[] = [];
    let budget = this.roundRows;
    const dropped = new Set<string>();
    for (let i = 0; i < queues.length; i++) {
      const { name, retention } = queues[(start + i) % queues.length]!;
      const limits = effectiveRetention(retention);
      const t = queueTables(arbiter.schema, name);
      for (const step of STEPS) {
        if (dropped.has(name)) break;
        const limit = step.limit(limits);
        if (limit === null) continue;
        let count = 0;
        while (budget > 0 && !stopped()) {
          const n = await step.run(arbiter.db, t, limit, Math.min(this.batchRows, budget)).catch((err) => {
            // Dropped since the list was read: nothing left to prune.
            if ((err as { code?: string }).code !== UNDEFINED_TABLE) throw err;
            dropped.add(name);
            return 0;
          });
          count += n;
          budget -= n;
          if (n < Math.min(this.batchRows, budget + n)) break; // this step is done for now
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
    return reports;
  }
}
