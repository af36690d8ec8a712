import { mergeChildOutcomes } from '../core/child-results.js';
import type { Fence } from '../core/fence.js';
import { isConnectionError } from '../core/connection-errors.js';
import type { Executor } from '../db/executor.js';
import { withTranslation, type TranslationScope } from '../db/errors.js';
import {
  dlqMoveFenced,
  dlqMoveStale,
  dlqMoveStandalone,
  dlqMoveStandaloneMany,
  dlqReapExhausted,
  type DlqMoveItem,
} from '../db/queries/dlq-move.js';
import { groupRefresh } from '../db/queries/group-refresh.js';
import { jobClaim, type Claim, type ClaimParams } from '../db/queries/job-claim.js';
import {
  jobAck,
  jobAckBulk,
  jobExtendLease,
  jobExtendLeases,
  jobRetry,
  jobRetryMany,
} from '../db/queries/job-complete.js';
import { jobCopyToHistory, jobKeepMany } from '../db/queries/job-history.js';
import { jobSnoozeMany } from '../db/queries/job-snooze.js';
import { jobAncientStale, jobRecoverStale } from '../db/queries/job-stale.js';
import {
  jobByIdempotencyKey,
  jobInsert,
  jobInsertLocks,
  jobInsertMany,
  sortForInsert,
  type JobInsert,
} from '../db/queries/job-insert.js';
import { jobAttemptsRecord } from '../db/queries/job-attempts.js';
import { jobProgressWrite, jobProgressWriteMany, type ProgressWrite } from '../db/queries/job-progress.js';
import { isSharedReport } from '../db/queries/job-final-reports.js';
import { resultReadChildOutcomes } from '../db/queries/result.js';
import { ClockOffset, toClaimedJob, toJob, type JobRow } from '../db/rows.js';
import type { SchemaCheck } from '../db/schema-check.js';
import type { QueueTables } from '../db/sql.js';
import { OutcomeUnknownError, QueueFullError } from '../errors.js';
import type { ChildOutcome, DedupMode, EnqueueOutcome, Job, JobId, LeaseUpdate } from '../types.js';
import { statBump } from '../db/queries/enqueue-controls.js';
import { controlledInsert, OVERFLOW_STAT } from './controls.js';
import { EnqueueBatcher } from './enqueue-batcher.js';
import { cachedFlowLimits } from './flow-cache.js';
import { recordFlowClaim } from './flow-stats.js';
import type { StoreAction, StoreCompletion } from './completion.js';
import { completeTracked, finishTracked } from './tracked-completions.js';

export type { StoreAction, StoreCompletion } from './completion.js';

/**
 * The trusted operations on one queue's jobs, bound to an executor and the queue's tables: what the
 * client's Queue calls once it has validated its input, and the only way the worker (fetcher, completer,
 * heartbeat, maintenance) reaches the jobs. Every database error is translated here (a missing queue or
 * schema becomes a typed error), and a write whose connection dies as it commits becomes an
 * OutcomeUnknownError.
 */
export class JobStore implements TranslationScope {
  constructor(
    readonly db: Executor,
    readonly t: QueueTables,
    readonly schemaCheck?: SchemaCheck,
    /** The host clock against the database's, for the status of jobs read here (see ClockOffset). */
    readonly clockOffset: ClockOffset = new ClockOffset(),
  ) {}

  get queue(): string {
    return this.t.queue;
  }

  /**
   * The same store, every statement sent through `db` (e.g. a caller's transaction), and the host clock
   * corrected by `clockOffset` (a worker's own measurement).
   */
  using(db: Executor, clockOffset = this.clockOffset): JobStore {
    return new JobStore(db, this.t, this.schemaCheck, clockOffset);
  }

  /** Runs `fn` with database errors translated (see withTranslation). */
  run<R>(fn: () => Promise<R>, context?: { parentId?: string | null }): Promise<R> {
    return withTranslation(this, fn, context);
  }

  /**
   * Like run, for a write: a connection that dies while it commits leaves the write's fate unknown, which
   * is an OutcomeUnknownError (retry with an idempotency key) rather than a plain connection error.
   */
  async write<R>(
    operation: string,
    fn: () => Promise<R>,
    context?: { parentId?: string | null },
  ): Promise<R> {
    try {
      return await this.run(fn, context);
    } catch (err) {
      if (isConnectionError(err) && !this.db.pinned) throw new OutcomeUnknownError(operation, err);
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------ insert

  private batcher: EnqueueBatcher | undefined;

  /**
   * Inserts one job. Returns its row, or, when a dedup key made it skip, null; with an idempotency key
   * held by a live job, that job's row (not inserted). Plain jobs on a pool coalesce with concurrent single inserts into
   * one statement (EnqueueBatcher).
   */
  insert(row: JobInsert): Promise<{ row: JobRow; inserted: boolean; outcome: EnqueueOutcome } | null> {
    if ((row.control ?? null) !== null || (row.cap ?? null) !== null) return this.insertControlled(row);
    return this.write(
      'enqueue',
      async () => {
        const inserted =
          !this.db.pinned && EnqueueBatcher.eligible(row)
            ? await (this.batcher ??= new EnqueueBatcher(this.db, this.t)).submit(row)
            : await jobInsert(this.db, this.t, row);
        if (inserted) {
          const outcome: EnqueueOutcome =
            (inserted as { inserted?: boolean }).inserted === false ? 'replaced' : 'created';
          return { row: inserted, inserted: true, outcome };
        }
        if (row.idempotencyKey === null) return null;
        const existing = await jobByIdempotencyKey(this.db, this.t, row.idempotencyKey);
        return existing && { row: existing, inserted: false, outcome: 'duplicate' as const };
      },
      { parentId: row.parentId },
    );
  }

  /**
   * An insert with an enqueue control or a depth cap, in its own transaction (a savepoint inside the
   * caller's). With `maxQueued.overflow: 'wait'`, a full queue is tried again, backing off from 10 ms to
   * 250 ms, until the timeout; each try is a transaction of its own, so no lock is held while waiting.
   * Returns null when nothing was written and no live job holds the key.
   */
  private async insertControlled(
    row: JobInsert,
  ): Promise<{ row: JobRow; inserted: boolean; outcome: EnqueueOutcome } | null> {
    const deadline = row.cap?.overflow === 'wait' ? performance.now() + row.cap.timeoutMs : 0;
    for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
      try {
        const r = await this.write('enqueue', () =>
          this.db.transaction((tx) => controlledInsert(tx, this.t, row)),
        );
        if (r.row === null) return null;
        return { row: r.row, inserted: r.outcome === 'created', outcome: r.outcome };
      } catch (err) {
        if (!(err instanceof QueueFullError)) throw err;
        const left = deadline - performance.now();
        if (left <= 0) {
          await this.run(() => statBump(this.db, this.t, OVERFLOW_STAT, err.groupKey ?? '')).catch(
            () => undefined,
          );
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      }
    }
  }

  /**
   * Inserts many jobs: rows sorted (ungrouped first, then by group key, caller order kept within a group)
   * and sent in one statement, or two when replace-mode dedup rows come with others. The last occurrence
   * of a dedup key wins. A batch whose rows carry keys first takes all its locks in one fixed order
   * (jobInsertLocks). Returns the rows inserted or replaced (when `returning`), else just as many slots.
   */
  insertMany(rows: readonly JobInsert[], returning: boolean): Promise<JobRow[]> {
    const lastIndex = new Map<string, number>();
    rows.forEach((p, i) => p.dedupKey !== null && lastIndex.set(p.dedupKey, i));
    const kept = rows.filter((p, i) => p.dedupKey === null || lastIndex.get(p.dedupKey) === i);
    const sorted = sortForInsert(kept);
    const replace = sorted.filter((p) => p.dedupMode === 'replace');
    const others = sorted.filter((p) => p.dedupMode !== 'replace');
    const keyed = sorted.some((p) => p.dedupKey !== null || p.idempotencyKey !== null);
    const run = async (db: Executor) => {
      if (keyed) await jobInsertLocks(db, this.t, sorted);
      const a = await jobInsertMany(db, this.t, others, null, returning);
      const b = await jobInsertMany(db, this.t, replace, 'replace' satisfies DedupMode, returning);
      if (returning) return [...a.rows, ...b.rows];
      return new Array<JobRow>(a.count + b.count);
    };
    return this.write('enqueueMany', () => (keyed ? this.db.transaction(run) : run(this.db)), {
      parentId: null,
    });
  }

  /** Takes the insert locks of a multi-statement insert up front (see jobInsertLocks). */
  insertLocks(rows: readonly JobInsert[]): Promise<void> {
    return jobInsertLocks(this.db, this.t, rows);
  }

  /** Inserts rows as given (one statement, no conflict clause): one row back per job, in order. */
  async insertRows(rows: readonly JobInsert[]): Promise<JobRow[]> {
    return (await jobInsertMany(this.db, this.t, [...rows], null, true)).rows;
  }

  // ------------------------------------------------------------------------------------------- claim

  /** Claims up to `limit` jobs, one per group; see jobClaim. */
  async claim(o: {
    limit: number;
    leaseMs: number;
    workerId: string | null;
  }): Promise<{ jobs: Job[]; nextDueMs: number | null }> {
    const { rows, nextDueMs } = await this.run(() =>
      this.claimRows(this.params(1, o.limit, o.leaseMs, o.workerId, false)),
    );
    return {
      jobs: rows.map((r) => toClaimedJob(this.t.queue, r, o.leaseMs, o.workerId, this.clockOffset)),
      nextDueMs,
    };
  }

  /**
   * Claims up to `batchSize` standalone jobs from each of up to `maxBatches` groups (ungrouped jobs in
   * batches of `batchSize` too); one array per batch, in FIFO order.
   */
  async claimBatches(o: {
    batchSize: number;
    maxBatches: number;
    leaseMs: number;
    workerId: string | null;
  }): Promise<{ batches: Job[][]; nextDueMs: number | null }> {
    const { rows, nextDueMs } = await this.run(() =>
      this.claimRows(this.params(o.batchSize, o.maxBatches, o.leaseMs, o.workerId, true)),
    );
    const groups = new Map<string, Job[]>();
    const loose: Job[] = [];
    for (const r of rows) {
      const job = toClaimedJob(this.t.queue, r, o.leaseMs, o.workerId, this.clockOffset);
      if (job.groupKey === null) loose.push(job);
      else {
        const list = groups.get(job.groupKey);
        if (list) list.push(job);
        else groups.set(job.groupKey, [job]);
      }
    }
    const batches = [...groups.values()];
    for (let i = 0; i < loose.length; i += o.batchSize) batches.push(loose.slice(i, i + o.batchSize));
    return { batches, nextDueMs };
  }

  /**
   * The claim statement as it always was for a queue without flow-control limits; for a queue with
   * limits, the same statement admitting first (see claimSql's `flow`), still one round trip. When the
   * bucket held the claim back, its nextDueMs is when the next token is due, so workers wake then.
   */
  private async claimRows(p: ClaimParams): Promise<Claim> {
    let limits = cachedFlowLimits(this.db, this.t.schema, this.t.queue);
    if (limits instanceof Promise) limits = await limits;
    if (limits === null) return jobClaim(this.db, this.t, p);
    const want = p.perGroup * p.groups;
    const claim = await jobClaim(this.db, this.t, { ...p, flow: true, keyed: limits.perKey !== null });
    const adm = claim.admitted!;
    const got = claim.rows.length;
    const capHit =
      adm.maxInFlight !== null &&
      adm.allowed < want &&
      got === adm.allowed &&
      (adm.inFlight ?? 0) + adm.allowed >= adm.maxInFlight;
    const rateHit = adm.tokenWaitMs !== null;
    const keyRateHit = adm.keyWaitMs !== null;
    recordFlowClaim(this.t.schema, this.t.queue, capHit, rateHit, adm.keysCapped > 0, keyRateHit);
    if (rateHit) claim.nextDueMs = Math.min(claim.nextDueMs ?? Infinity, adm.tokenWaitMs!);
    if (keyRateHit) claim.nextDueMs = Math.min(claim.nextDueMs ?? Infinity, adm.keyWaitMs!);
    return claim;
  }

  private params(
    perGroup: number,
    groups: number,
    leaseMs: number,
    workerId: string | null,
    standaloneOnly: boolean,
  ): ClaimParams {
    return { perGroup, groups, leaseMs, workerId, standaloneOnly };
  }

  // ------------------------------------------------------------------------------------ after a claim

  /**
   * Writes many completions, one statement per kind of action (plain acks, keeps, retries, snoozes and
   * dead letters each go in one), one after the other; the acks of jobs in trees, which decide their
   * parents' fate under tree locks, go one by one. Resolves, per item, whether it was written (false: the
   * fence no longer held, another attempt owns the job).
   */
  async complete(items: readonly StoreCompletion[]): Promise<boolean[]> {
    const out = new Array<boolean>(items.length).fill(false);
    const of = (pick: (c: StoreCompletion) => boolean) => {
      const idx: number[] = [];
      for (let i = 0; i < items.length; i++) if (pick(items[i]!)) idx.push(i);
      return idx;
    };
    const fences = (idx: number[]) => idx.map((i) => items[i]!.fence);
    const mark = (idx: number[], ids: readonly string[]) => {
      const done = new Set(ids);
      const rest: number[] = [];
      for (const i of idx) {
        if (done.has(items[i]!.fence.id)) out[i] = true;
        else rest.push(i);
      }
      return rest;
    };
    // Standalone plain acks in one DELETE. One that was not deleted either lost its lease or turned out to
    // have children (a parent acked by its own run): the smart ack tells the two apart.
    // Tracked successes record their result with the delete (see completeTracked); their last reports go
    // first, fenced, as a report written while the job runs.
    const finished = (c: StoreCompletion) => c.action.type === 'ack' || c.action.type === 'keep';
    const tracked = of((c) => finished(c) && c.tracked === true);
    if (tracked.length > 0) {
      const trackedReports = reportsOf(
        items,
        tracked.filter((i) => items[i]!.report !== undefined),
      );
      if (trackedReports.length > 0)
        await this.run(() => jobProgressWriteMany(this.db, this.t, trackedReports));
      const done = await this.completeTracked(tracked.map((i) => items[i]!));
      tracked.forEach((i, k) => (out[i] = done[k]!));
    }
    const plain = of((c) => c.action.type === 'ack' && c.action.result === null && !c.inTree && !c.tracked);
    const smart = of((c) => c.action.type === 'ack' && (c.action.result !== null || c.inTree) && !c.tracked);
    // Reports already written (or about to be, with the bulk DELETE): not to be written again.
    const reported = new Set(tracked);
    if (plain.length > 0) {
      // Their last reports go in the DELETE itself (in shared rows, written only for the rows it deletes);
      // a large one is written first, on its own, fenced, as a report written while the job runs.
      const own: number[] = [];
      const shared: number[] = [];
      for (const i of plain) {
        const r = items[i]!.report;
        if (r) (isSharedReport(r) ? shared : own).push(i);
      }
      if (own.length > 0) await this.run(() => jobProgressWriteMany(this.db, this.t, reportsOf(items, own)));
      const acked = await this.run(() =>
        jobAckBulk(this.db, this.t, fences(plain), reportsOf(items, shared)),
      );
      for (const i of own) reported.add(i);
      const rest = new Set(mark(plain, acked));
      for (const i of shared) if (!rest.has(i)) reported.add(i);
      smart.push(...rest);
    }
    // Every other outcome that carries a report writes it first, fenced, as a report written while the
    // job runs (a report the bulk DELETE left behind belongs to a job going the smart way).
    const early = reportsOf(
      items,
      of((c) => c.report !== undefined).filter((i) => !reported.has(i)),
    );
    if (early.length > 0) await this.run(() => jobProgressWriteMany(this.db, this.t, early));
    for (const i of smart) {
      const c = items[i]!;
      const result = c.action.type === 'ack' ? c.action.result : null;
      out[i] = await this.ack(c.fence, result, true);
    }

    const keepPlain = of((c) => c.action.type === 'keep' && !c.inTree && !c.tracked);
    const keepTree = of((c) => c.action.type === 'keep' && c.inTree && !c.tracked);
    if (keepPlain.length > 0) {
      const keep = keepPlain.map((i) => ({ ...items[i]!.fence, result: resultOf(items[i]!.action) }));
      keepTree.push(...mark(keepPlain, await this.run(() => jobKeepMany(this.db, this.t, keep))));
    }
    for (const i of keepTree) out[i] = await this.keepInTree(items[i]!.fence, resultOf(items[i]!.action));

    // Failed attempts are recorded first, under the same fence as the write that follows; plain
    // successes write nothing more.
    const failed = of((c) => c.action.type === 'retry' || c.action.type === 'dead');
    if (failed.length > 0) {
      const list = failed.map((i) => {
        const a = items[i]!.action as Extract<StoreAction, { type: 'retry' | 'dead' }>;
        return { ...items[i]!.fence, error: a.error };
      });
      await this.run(() => jobAttemptsRecord(this.db, this.t, list));
    }

    const retries = of((c) => c.action.type === 'retry');
    if (retries.length > 0) {
      const list = retries.map((i) => {
        const a = items[i]!.action as Extract<StoreAction, { type: 'retry' }>;
        return { ...items[i]!.fence, delayMs: a.delayMs, error: a.error };
      });
      mark(retries, await this.run(() => jobRetryMany(this.db, this.t, list)));
    }

    const snoozes = of((c) => c.action.type === 'snooze');
    if (snoozes.length > 0) mark(snoozes, await this.snooze(snoozes.map((i) => snoozeItem(items[i]!))));

    const dead = of((c) => c.action.type === 'dead');
    if (dead.length > 0) {
      const list = dead.map((i) => {
        const a = items[i]!.action as Extract<StoreAction, { type: 'dead' }>;
        return { ...items[i]!.fence, error: a.error };
      });
      mark(dead, await this.deadLetterEach(list));
    }
    return out;
  }

  /** Successes of tracked jobs, each resolved to whether it was written (see completeTracked). */
  private completeTracked(items: readonly StoreCompletion[]): Promise<boolean[]> {
    return completeTracked(this, items);
  }

  /** One tracked success in a transaction: the result written (fenced), then the keep or smart ack. */
  finishTracked(fence: Fence, result: string | null, keep: boolean): Promise<boolean> {
    return finishTracked(this, fence, result, keep);
  }

  /** The smart ack of one job (see jobAck); `result` is stored for its parent. */
  ack(fence: Fence, result: string | null, inTree: boolean): Promise<boolean> {
    return this.run(async () => (await jobAck(this.db, this.t, fence, result ?? undefined, { inTree })) > 0);
  }

  /** Acks standalone jobs in one DELETE; returns the ids deleted (see jobAckBulk). */
  ackBulk(fences: readonly Fence[]): Promise<string[]> {
    return this.run(() => jobAckBulk(this.db, this.t, fences));
  }

  /** Releases one held job for a retry after `delayMs`, recording `error` (see jobRetry). */
  retry(fence: Fence, delayMs: number, error: string): Promise<boolean> {
    return this.run(async () => (await jobRetry(this.db, this.t, fence, delayMs, error)) > 0);
  }

  /** Releases held jobs to run again after their delays, refunding the attempt; returns the ids written. */
  snooze(items: readonly (Fence & { delayMs: number; note: string | null })[]): Promise<string[]> {
    return this.run(() => jobSnoozeMany(this.db, this.t, items));
  }

  /**
   * Moves held jobs (with their descendants) to the dead-letter table: a standalone one in one statement,
   * several, or any in a tree, in one transaction. Returns how many of `items` moved.
   */
  deadLetter(items: readonly DlqMoveItem[]): Promise<number> {
    return this.run(async () => {
      if (items.length === 1 && (await dlqMoveStandalone(this.db, this.t, items[0]!))) return 1;
      return (await this.db.transaction((tx) => dlqMoveFenced(tx, this.t, items))).length;
    });
  }

  /**
   * Stale recovery's dead letters (jobs claimed too long ago): fenced like deadLetter, and counted in the
   * queue's throughput history in the same transaction. Returns how many of `items` moved.
   */
  deadLetterStale(items: readonly DlqMoveItem[]): Promise<number> {
    return this.run(() => dlqMoveStale(this.db, this.t, items));
  }

  /**
   * deadLetter for a batch of completions, reporting which ids moved: the standalone jobs in one
   * statement, any left (in a tree, or no longer held) through the tree-aware move.
   */
  private deadLetterEach(items: readonly DlqMoveItem[]): Promise<string[]> {
    return this.run(async () => {
      const moved = await dlqMoveStandaloneMany(this.db, this.t, items);
      if (moved.length === items.length) return moved;
      const done = new Set(moved);
      const rest = items.filter((i) => !done.has(i.id));
      return [...moved, ...(await this.db.transaction((tx) => dlqMoveFenced(tx, this.t, rest)))];
    });
  }

  /**
   * Keep as processed for a job in a tree (or one that turned out to have children): copied to the history
   * table and smart-acked (a child's result stored for its parent too) in one transaction, so all of it
   * happens or none. A parent that still has children
   * is only suspended by the ack and not copied (it is not finished yet).
   */
  private async keepInTree(fence: Fence, result: string | null): Promise<boolean> {
    try {
      return await this.run(() =>
        this.db.transaction(async (tx) => {
          await jobCopyToHistory(tx, this.t, fence, result);
          // A child's result also goes to its parent (jobAck stores it only for a job that has one).
          if ((await jobAck(tx, this.t, fence, result ?? undefined, { inTree: true })) === 0)
            throw new Fenced();
          return true;
        }),
      );
    } catch (err) {
      if (err instanceof Fenced) return false;
      throw err;
    }
  }

  /** Sets a held job's lease to `leaseMs` from now; false when the job is no longer the caller's. */
  extendLease(fence: Fence, leaseMs: number): Promise<boolean> {
    return this.run(async () => (await jobExtendLease(this.db, this.t, fence, leaseMs)) > 0);
  }

  /** Writes a running job's report (progress, metadata, log lines), fenced; false when fenced off. */
  writeProgress(write: ProgressWrite): Promise<boolean> {
    return this.run(() => jobProgressWrite(this.db, this.t, write));
  }

  /** Writes several running jobs' reports in one statement (one write per job); returns the ids written. */
  writeProgressMany(writes: readonly ProgressWrite[]): Promise<Set<string>> {
    return this.run(() => jobProgressWriteMany(this.db, this.t, writes));
  }

  /** Extends several leases at once and reports, per job, updated / acked (gone) / stolen. */
  async extendLeases(fences: readonly Fence[], leaseMs: number): Promise<LeaseUpdate[]> {
    const rows = await this.run(() => jobExtendLeases(this.db, this.t, fences, leaseMs));
    return rows.map((r) => ({
      id: r.id,
      status: r.updated ? 'updated' : r.current_attempts === null ? 'acked' : 'stolen',
      currentAttempts: r.current_attempts,
    }));
  }

  /** A rollup parent's merged child outcomes for its completion round (DLQ errors > results > snapshot). */
  async childOutcomes(parentId: JobId): Promise<Map<JobId, ChildOutcome>> {
    const raw = await this.run(() => resultReadChildOutcomes(this.db, this.t, parentId));
    const results = new Map<JobId, unknown>(Object.entries(raw.results ?? {}));
    const dlqErrors = new Map<JobId, string>(Object.entries(raw.dlq_errors ?? {}));
    return mergeChildOutcomes(results, dlqErrors, raw.snapshot);
  }

  // ------------------------------------------------------------------------------------- maintenance

  /** Expired leases with attempts left, claimed less than `maxAgeMs` ago, go back to retry now. */
  recoverStale(maxAgeMs: number): Promise<number> {
    return this.run(() => jobRecoverStale(this.db, this.t, maxAgeMs));
  }

  /** Jobs claimed longer than `maxAgeMs` ago and still leased (or expired), oldest first. */
  async ancientStale(maxAgeMs: number, limit: number): Promise<Job[]> {
    const rows = await this.run(() => jobAncientStale(this.db, this.t, maxAgeMs, limit));
    return rows.map((r) => toJob(this.t.queue, r, this.clockOffset));
  }

  /** Dead-letters up to `limit` jobs whose lease expired on their final attempt. */
  reapExhausted(limit: number): Promise<number> {
    return this.run(() => dlqReapExhausted(this.db, this.t, limit));
  }

  /** Recomputes the groups from their jobs (see groupRefresh); null when the queue is not registered. */
  refreshGroups(minIntervalMs: number): Promise<boolean | null> {
    return this.run(() => groupRefresh(this.db, this.t, minIntervalMs));
  }
}

class Fenced extends Error {}

function resultOf(action: StoreAction): string | null {
  return action.type === 'ack' || action.type === 'keep' ? action.result : null;
}

/** The reports carried by `items[idx]`, in order. */
function reportsOf(items: readonly StoreCompletion[], idx: readonly number[]): ProgressWrite[] {
  const out: ProgressWrite[] = [];
  for (const i of idx) {
    const r = items[i]!.report;
    if (r) out.push(r);
  }
  return out;
}

function snoozeItem(c: StoreCompletion): Fence & { delayMs: number; note: string | null } {
  const a = c.action as Extract<StoreAction, { type: 'snooze' }>;
  return { ...c.fence, delayMs: a.delayMs, note: a.note };
}
