import { isConnectionError } from '../core/connection-errors.js';
import type { ProgressWrite } from '../db/queries/job-progress.js';
import type { JobStore, StoreAction, StoreCompletion } from '../store/job-store.js';
import type { Job } from '../types.js';
import { isTracked } from '../core/tracking.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';

/** `accepted`: written. `fenced`: our lease was lost, nothing changed. `failed`: the write kept failing (reported). */
export type Completion = 'accepted' | 'fenced' | 'failed';

interface Pending {
  item: StoreCompletion;
  resolve: (result: Completion) => void;
}

interface QueueBuffer {
  store: JobStore;
  pending: Pending[];
}

const MAX_BUFFER = 500;
/** A flush this large means the queue is busy: plain acks then wait LOADED_WINDOW × flushMs. */
const LOADED_BATCH = 50;
const LOADED_WINDOW = 4;
const FLUSH_RETRIES = 3;

/**
 * Writes handler outcomes in batches: every kind of outcome (ack, keep, retry, snooze, dead-letter) is
 * buffered for `flushMs` and written per queue with one statement per kind (JobStore.complete), the
 * way plain acks always were; only the acks of jobs in trees, which decide their parents' fate under
 * tree locks, still go one by one. Each completion resolves to whether the write was accepted: `fenced`
 * means our lease was lost and another attempt owns the job.
 */
export class Completer {
  private readonly buffers = new Map<string, QueueBuffer>();
  private timer: TimerHandle | undefined;
  /** clock.now() at which the pending flush timer fires. */
  private timerDue = 0;
  /** The last flush carried at least LOADED_BATCH completions. */
  private loaded = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly flushMs: number,
    private readonly onError: (error: unknown, context: string) => void,
    /** The worker has nothing running and nothing claimed waiting to run: no more outcomes are coming soon. */
    private readonly idle: () => boolean,
    private readonly clock: Clock = realClock,
  ) {}

  /** Writes `action` for `job` (and `report`, its last report, with it when given). */
  complete(store: JobStore, job: Job, action: StoreAction, report?: ProgressWrite): Promise<Completion> {
    const item: StoreCompletion = {
      fence: { id: job.id, attempts: job.attempts },
      inTree: job.parentId !== null || job.isRollup,
      tracked: isTracked(job),
      action,
    };
    if (report) item.report = report;
    return new Promise<Completion>((resolve) => {
      let buf = this.buffers.get(store.queue);
      if (!buf) this.buffers.set(store.queue, (buf = { store, pending: [] }));
      buf.pending.push({ item, resolve });
      if (buf.pending.length >= MAX_BUFFER) return this.flushNow();
      // A group's next job waits for this outcome: with nothing being written, it leaves at once (outcomes
      // that arrive while it is on its way gather for the next flush as usual).
      if (job.groupKey !== null && this.inFlight.size === 0) return this.flushNow();
      // The end of a burst: with nothing left to run, no more outcomes are coming to share the statements,
      // and the long window would only hold back the burst's last completions.
      if (this.loaded && this.idle()) return this.flushNow();
      // Under load (the last flush was large) plain acks of ungrouped jobs wait longer and leave in fewer,
      // larger statements: a bulk DELETE costs PostgreSQL about half as much per row at 500 rows as at
      // 100. Anything another job may wait for (a group moving on, a retry) keeps the short window.
      const long = this.loaded && job.groupKey === null && action.type === 'ack';
      const windowMs = long ? this.flushMs * LOADED_WINDOW : this.flushMs;
      const due = this.clock.now() + windowMs;
      if (this.timer && this.timerDue <= due) return;
      this.clock.clearTimeout(this.timer);
      this.timerDue = due;
      this.timer = this.clock.setTimeout(() => this.flushNow(), windowMs);
    });
  }

  private flushNow(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    let flushed = 0;
    for (const buf of this.buffers.values()) flushed += buf.pending.length;
    this.loaded = flushed >= LOADED_BATCH;
    for (const buf of this.buffers.values()) {
      if (buf.pending.length === 0) continue;
      const batch = buf.pending.splice(0);
      // One write per kind of outcome, each retried on its own: a connection lost after one kind
      // committed does not write that kind again.
      const kinds = new Map<StoreAction['type'], Pending[]>();
      for (const p of batch) {
        const list = kinds.get(p.item.action.type);
        if (list) list.push(p);
        else kinds.set(p.item.action.type, [p]);
      }
      for (const [kind, list] of kinds) this.track(this.flushKind(buf.store, kind, list));
    }
  }

  private async flushKind(store: JobStore, kind: StoreAction['type'], batch: Pending[]): Promise<void> {
    const written = await this.retrying(kind, () => store.complete(batch.map((p) => p.item)));
    for (let i = 0; i < batch.length; i++) {
      batch[i]!.resolve(written === null ? 'failed' : written[i] ? 'accepted' : 'fenced');
    }
  }

  /**
   * Retries connection failures a few times. If the write still fails, the error is reported and the jobs
   * keep their leases until they expire; then they are redelivered (at least once).
   */
  private async retrying<R>(context: string, fn: () => Promise<R>): Promise<R | null> {
    let lastError: unknown;
    for (let i = 0; i < FLUSH_RETRIES; i++) {
      try {
        return await fn();
      } catch (err) {
        lastError = err;
        // Only a connection failure is worth retrying; anything else would fail the same way again.
        if (!isConnectionError(err)) break;
        await new Promise<void>((r) => this.clock.setTimeout(r, 100 * 2 ** i));
      }
    }
    this.onError(lastError, `completer:${context}`);
    return null;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Writes everything buffered and waits for every pending write. */
  async drain(): Promise<void> {
    this.flushNow();
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight]);
      this.flushNow();
    }
  }
}
