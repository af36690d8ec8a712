import type { Executor } from '../db/executor.js';
import { queueStatsAdd, WAIT_BOUNDS_MS, waitSlot, type StatsDelta } from '../db/queries/queue-stats.js';
import type { Job } from '../types.js';
import type { WorkerEventEmitter } from './events.js';

/** Most queue-minutes kept in memory while the database cannot be written (the oldest are dropped). */
const MAX_PENDING = 10_000;

export type StatsOutcome = 'completed' | 'failed' | 'dead';

/**
 * Counts a worker's finished attempts per queue and minute (completed, failed, dead, wait-time histogram)
 * in memory and adds them to `_queue_stats` in one statement every `intervalMs` and at shutdown: a job
 * costs a few additions, never a write of its own. A failed write keeps the counts for the next one.
 */
export class StatsRecorder {
  private pending = new Map<string, StatsDelta>();
  /** The delta the last call used: consecutive jobs of one queue and minute skip the map. */
  private last: StatsDelta | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Executor,
    private readonly schema: string,
    private readonly intervalMs: number,
    private readonly events: WorkerEventEmitter,
  ) {}

  /** Counts one finished attempt of `job` (its wait: from due to claimed, database times). */
  record(queue: string, job: Job, outcome: StatsOutcome): void {
    const now = Date.now();
    const minute = now - (now % 60_000);
    let d = this.last;
    if (!d || d.queue !== queue || d.minute.getTime() !== minute) {
      const key = `${queue}\u0000${minute}`;
      d = this.pending.get(key);
      if (!d) {
        if (this.pending.size >= MAX_PENDING) return;
        d = { queue, minute: new Date(minute), completed: 0, failed: 0, dead: 0, waitHist: newHist() };
        this.pending.set(key, d);
      }
      this.last = d;
    }
    if (outcome === 'completed') d.completed++;
    else {
      d.failed++;
      if (outcome === 'dead') d.dead++;
    }
    if (job.claimedAt) d.waitHist[waitSlot(Math.max(0, job.claimedAt.getTime() - job.runAt.getTime()))]!++;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is counted. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes what is counted so far (one statement); concurrent callers share it. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.last = undefined;
    try {
      await queueStatsAdd(this.db, this.schema, batch);
    } catch (error) {
      this.events.emit('error', { error, context: 'stats:flush' });
      for (const d of batch) this.merge(d);
    }
  }

  private merge(d: StatsDelta): void {
    const key = `${d.queue}\u0000${d.minute.getTime()}`;
    const cur = this.pending.get(key);
    if (!cur) {
      if (this.pending.size < MAX_PENDING) this.pending.set(key, d);
      return;
    }
    cur.completed += d.completed;
    cur.failed += d.failed;
    cur.dead += d.dead;
    d.waitHist.forEach((n, i) => (cur.waitHist[i]! += n));
  }
}

function newHist(): number[] {
  return new Array<number>(WAIT_BOUNDS_MS.length + 1).fill(0);
}
