import { isConnectionError } from '../core/connection-errors.js';
import type { Executor } from '../db/executor.js';
import { jobInsert, jobInsertMany, sortForInsert, type JobInsert } from '../db/queries/job-insert.js';
import { notifyChannel } from '../db/queries/notify.js';
import type { JobRow } from '../db/rows.js';
import type { QueueTables } from '../db/sql.js';

interface Pending {
  row: JobInsert;
  resolve: (row: JobRow) => void;
  reject: (err: unknown) => void;
}

/**
 * Sends a queue's wake-up NOTIFY after inserts that suppressed their trigger's (see migration 0004).
 * Every committed insert is followed by a wake-up sent after its commit: the first at once (an idle
 * queue's job is not delayed), then at most one per `minIntervalMs` while inserts keep committing, one
 * statement at a time, so a busy producer pays a few wake-up statements a second rather than one per
 * insert. A lost wake-up (connection error) only delays workers until their next poll.
 */
export class WakeNotifier {
  private sending = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private lastSentAt = -Infinity;

  constructor(
    private readonly db: Executor,
    private readonly t: QueueTables,
    private readonly minIntervalMs = 5,
  ) {}

  /**
   * Whether the next insert should notify through its trigger instead: when no wake-up went out in the
   * last `minIntervalMs` (an idle queue), the trigger's NOTIFY at commit is the quickest wake-up there is,
   * and a lone commit has nobody to hold up. Answering true counts as sending one.
   */
  takeTriggerTurn(): boolean {
    if (this.sending || this.timer || this.pending) return false;
    const now = performance.now();
    if (now - this.lastSentAt < this.minIntervalMs) return false;
    this.lastSentAt = now;
    return true;
  }

  /** An insert of this queue has committed without notifying. */
  committed(): void {
    this.pending = true;
    if (this.sending || this.timer) return;
    const wait = this.lastSentAt + this.minIntervalMs - performance.now();
    if (wait <= 0) this.send();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.pending && !this.sending) this.send();
      }, wait);
      this.timer.unref();
    }
  }

  private send(): void {
    this.pending = false;
    this.sending = true;
    this.lastSentAt = performance.now();
    void this.db
      .query('SELECT pg_notify($1, $2)', [notifyChannel(this.t.schema), this.t.queue], 'arb:notify')
      .catch(() => undefined)
      .finally(() => {
        this.sending = false;
        // Inserts that committed while this one was on its way need a wake-up sent after them.
        if (this.pending) this.committed();
      });
  }
}

/**
 * Coalesces concurrent single enqueues into multi-row inserts. A call goes out at once while fewer than
 * `maxInFlight` statements are running; calls that arrive meanwhile wait and leave together in the next
 * statement. Nothing waits on a timer, so an idle queue sees no added latency, and a busy one pays one
 * commit for many jobs instead of one each.
 *
 * Only plain jobs are coalesced (no dedup or idempotency key, no parent): those cannot fail in the
 * database for reasons specific to one row, so sharing a statement never turns one caller's error into
 * another's. If a shared statement fails anyway, each job is retried alone so errors stay per call.
 *
 * The statements commit on their own. On an idle queue the insert trigger's NOTIFY wakes workers at
 * commit; under load the statements skip it (it would serialize their commits) and a WakeNotifier wakes
 * workers once they have committed, a few times a second at most.
 */
export class EnqueueBatcher {
  private readonly waiting: Pending[] = [];
  private inFlight = 0;
  /** A statement just finished: the next one leaves on the next turn of the event loop. */
  private settling = false;

  private readonly notifier: WakeNotifier;

  constructor(
    private readonly db: Executor,
    private readonly t: QueueTables,
    private readonly maxInFlight = 2,
    private readonly maxBatch = 1000,
  ) {
    this.notifier = new WakeNotifier(db, t);
  }

  static eligible(row: JobInsert): boolean {
    return (
      row.dedupKey === null &&
      row.idempotencyKey === null &&
      row.parentId === null &&
      (row.control ?? null) === null &&
      (row.cap ?? null) === null
    );
  }

  submit(row: JobInsert): Promise<JobRow> {
    return new Promise<JobRow>((resolve, reject) => {
      this.waiting.push({ row, resolve, reject });
      if (!this.settling) this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      // Everyone waiting leaves together: one statement of eight rows costs one commit where two of four
      // cost two. The second slot carries callers that arrive while a statement is out (and keeps
      // enqueues moving when one statement waits on a lock, say a group row held by a transaction).
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        // Let the callers this statement just answered enqueue their next job first (they resume on
        // microtasks), so they share the next statement instead of one going out alone ahead of them.
        this.settling = true;
        setImmediate(() => {
          this.settling = false;
          this.pump();
        });
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const quiet = !this.notifier.takeTriggerTurn();
    await this.insertBatch(batch, quiet);
    if (quiet) this.notifier.committed();
  }

  private async insertBatch(batch: Pending[], quiet: boolean): Promise<void> {
    if (batch.length === 1) {
      const [p] = batch as [Pending];
      await this.insertOne(p, quiet);
      return;
    }
    const sorted = sortForInsert(batch.map((p) => ({ ...p, groupKey: p.row.groupKey })));
    try {
      const { rows } = await jobInsertMany(
        this.db,
        this.t,
        sorted.map((p) => p.row),
        null,
        true,
        { quiet },
      );
      // Plain rows cannot conflict: the rows come back in input order.
      sorted.forEach((p, i) => p.resolve(rows[i]!));
    } catch (err) {
      if (isConnectionError(err)) {
        for (const p of sorted) p.reject(err);
        return;
      }
      await Promise.all(sorted.map((p) => this.insertOne(p, quiet)));
    }
  }

  private async insertOne(p: Pending, quiet: boolean): Promise<void> {
    try {
      const row = await jobInsert(this.db, this.t, p.row, { quiet });
      if (!row) throw new Error('insert returned no row');
      p.resolve(row);
    } catch (err) {
      p.reject(err);
    }
  }
}
