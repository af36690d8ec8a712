import type { Queue } from '../client/queue.js';
import { describeError, type Action } from '../core/outcome.js';
import { isConnectionError, type Executor } from '../db/executor.js';
import { jobCopyToHistory, jobKeepMany, jobSnooze } from '../db/queries/job-worker.js';
import { encodePayload } from '../core/payload.js';
import type { Job, JobRef } from '../types.js';

/** `accepted`: written. `fenced`: our lease was lost, nothing changed. `failed`: the write kept failing (reported). */
export type Completion = 'accepted' | 'fenced' | 'failed';

interface PendingAck {
  job: Job;
  /** Keep as processed: the result to store in the history table (JSON text), or null. */
  keep: { result: string | null } | null;
  resolve: (result: Completion) => void;
}

interface QueueBuffer {
  queue: Queue<unknown>;
  acks: PendingAck[];
}

const MAX_BUFFER = 500;
/** A flush this large means the queue is busy: plain acks then wait LOADED_WINDOW × flushMs. */
const LOADED_BATCH = 50;
const LOADED_WINDOW = 4;
const FLUSH_RETRIES = 3;

/**
 * Writes handler outcomes. Plain acks of standalone jobs are buffered for `flushMs` and written as one
 * fenced DELETE per queue (ackBulk); jobs in trees, jobs with a result and every other outcome go through
 * their own fenced call. Each completion resolves to whether the write was accepted: false means our lease
 * was lost and another attempt owns the job.
 */
export class Completer {
  private readonly buffers = new Map<string, QueueBuffer>();
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() at which the pending flush timer fires. */
  private timerDue = 0;
  /** The last flush carried at least LOADED_BATCH acks. */
  private loaded = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Executor,
    private readonly flushMs: number,
    private readonly maxResultBytes: number,
    private readonly onError: (error: unknown, context: string) => void,
    /** The worker has nothing running and nothing claimed waiting to run: no more acks are coming soon. */
    private readonly idle: () => boolean,
  ) {}

  complete(queue: Queue<unknown>, job: Job, action: Action): Promise<Completion> {
    if (action.type === 'ack' && job.parentId === null && !job.isRollup) {
      // A result is only stored for a parent (or kept in history), so a standalone job is acked in bulk
      // (the flush that writes it is what drain() waits for).
      let keep: PendingAck['keep'] = null;
      if (action.keep) {
        try {
          keep = { result: action.hasResult ? encodePayload(action.result, this.maxResultBytes) : null };
        } catch (error) {
          return Promise.reject(error as Error);
        }
      }
      return this.bufferAck(queue, job, keep);
    }
    const p = this.write(queue, job, action);
    this.track(p);
    return p;
  }

  private async write(queue: Queue<unknown>, job: Job, action: Action): Promise<Completion> {
    switch (action.type) {
      case 'ack': {
        const keep = action.keep
          ? { result: action.hasResult ? encodePayload(action.result, this.maxResultBytes) : null }
          : null;
        const childResult = action.hasResult && job.parentId !== null ? { result: action.result } : {};
        if (keep) return this.retrying('keep', () => keepOne(this.db, queue, job, childResult, keep.result));
        return this.retrying('ack', () => queue.ack(job, childResult).then((n) => n > 0));
      }
      case 'retry':
        return this.retrying('retry', () =>
          queue.retry(job, { delayMs: action.delayMs, error: action.error }).then((n) => n > 0),
        );
      case 'snooze':
        return this.retrying('snooze', () =>
          jobSnooze(this.db, queue.tables, fence(job), action.delayMs, null).then((n) => n > 0),
        );
      case 'dead':
        return this.retrying('dead-letter', () => deadLetter(queue, job, action.error));
    }
  }

  private bufferAck(queue: Queue<unknown>, job: Job, keep: PendingAck['keep']): Promise<Completion> {
    return new Promise<Completion>((resolve) => {
      let buf = this.buffers.get(queue.name);
      if (!buf) this.buffers.set(queue.name, (buf = { queue, acks: [] }));
      buf.acks.push({ job, keep, resolve });
      if (buf.acks.length >= MAX_BUFFER) return this.flushNow();
      // A group's next job waits for this ack: with nothing being written, it leaves at once (acks that
      // arrive while it is on its way gather for the next flush as usual).
      if (job.groupKey !== null && this.inFlight.size === 0) return this.flushNow();
      // The end of a burst: with nothing left to run, no more acks are coming to share the statement, and
      // the long window would only hold back the burst's last completions.
      if (this.loaded && this.idle()) return this.flushNow();
      // Under load (the last flush was large) plain acks wait longer and leave in fewer, larger
      // statements: a bulk DELETE costs PostgreSQL about half as much per row at 500 rows as at 100.
      // An ack that lets a group move on (the group's next job waits for it) keeps the short window.
      const windowMs = this.loaded && job.groupKey === null ? this.flushMs * LOADED_WINDOW : this.flushMs;
      const due = performance.now() + windowMs;
      if (this.timer && this.timerDue <= due) return;
      if (this.timer) clearTimeout(this.timer);
      this.timerDue = due;
      this.timer = setTimeout(() => this.flushNow(), windowMs);
    });
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let flushed = 0;
    for (const buf of this.buffers.values()) flushed += buf.acks.length;
    this.loaded = flushed >= LOADED_BATCH;
    for (const buf of this.buffers.values()) {
      if (buf.acks.length === 0) continue;
      const batch = buf.acks.splice(0);
      this.track(this.flushBatch(buf.queue, batch));
    }
  }

  private async flushBatch(queue: Queue<unknown>, batch: PendingAck[]): Promise<void> {
    try {
      const plain = batch.filter((b) => b.keep === null);
      const kept = batch.filter((b) => b.keep !== null);
      const ids = await this.retrying<string[] | null>(
        'ack-bulk',
        async () => [
          ...(plain.length > 0 ? await queue.ackBulk(plain.map((b) => b.job)) : []),
          ...(kept.length > 0
            ? await jobKeepMany(
                this.db,
                queue.tables,
                kept.map((b) => ({ ...fence(b.job), result: b.keep!.result })),
              )
            : []),
        ],
        () => null,
      );
      if (ids === null) {
        for (const b of batch) b.resolve('failed');
        return;
      }
      const deleted = new Set(ids);
      const rest: PendingAck[] = [];
      for (const b of batch) {
        if (deleted.has(b.job.id)) b.resolve('accepted');
        else rest.push(b);
      }
      // Not done in bulk: either our lease was lost, or the job has children (a parent acked by its own
      // run): the smart ack tells the two apart and suspends a parent until its children finish.
      await Promise.all(
        rest.map(async (b) => {
          const keep = b.keep;
          b.resolve(
            await this.retrying(keep ? 'keep' : 'ack', () =>
              keep ? keepOne(this.db, queue, b.job, {}, keep.result) : queue.ack(b.job).then((n) => n > 0),
            ),
          );
        }),
      );
    } catch (err) {
      this.onError(err, 'completer');
      for (const b of batch) b.resolve('failed');
    }
  }

  /**
   * Retries connection failures a few times. If the write still fails, the error is reported and the job
   * keeps its lease until it expires; then it is redelivered (at least once).
   */
  private async retrying(context: string, fn: () => Promise<boolean>): Promise<Completion>;
  private async retrying<R>(context: string, fn: () => Promise<R>, onFailure: () => R): Promise<R>;
  private async retrying<R>(
    context: string,
    fn: () => Promise<R | boolean>,
    onFailure?: () => R,
  ): Promise<R | Completion> {
    let lastError: unknown;
    for (let i = 0; i < FLUSH_RETRIES; i++) {
      try {
        const r = await fn();
        if (typeof r === 'boolean') return r ? 'accepted' : 'fenced';
        return r;
      } catch (err) {
        lastError = err;
        // Only a connection failure is worth retrying; anything else would fail the same way again.
        if (!isConnectionError(err)) break;
        await new Promise((r) => setTimeout(r, 100 * 2 ** i));
      }
    }
    this.onError(lastError, `completer:${context}`);
    return onFailure ? onFailure() : 'failed';
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

function fence(job: JobRef): { id: string; attempts: number } {
  return { id: String(job.id), attempts: job.attempts };
}

/** Moves a held job (with any descendants) to the dead-letter table, fenced (queue.dlq.move). */
export async function deadLetter(queue: Queue<unknown>, job: JobRef, error: string): Promise<boolean> {
  return (await queue.dlq.move(job, describeError(error))) > 0;
}

class Fenced extends Error {}

/**
 * Keep as processed for a job in a tree (or one that turned out to have children): copies it to the
 * history table and smart-acks it in one transaction, so either both happen or neither. A parent that
 * still has children is only suspended by the ack and not copied (it is not finished yet).
 */
async function keepOne(
  db: Executor,
  queue: Queue<unknown>,
  job: Job,
  childResult: { result?: unknown },
  result: string | null,
): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      await jobCopyToHistory(tx, queue.tables, fence(job), result);
      if ((await queue.using(tx).ack(job, childResult)) === 0) throw new Fenced();
      return true;
    });
  } catch (err) {
    if (err instanceof Fenced) return false;
    throw err;
  }
}
