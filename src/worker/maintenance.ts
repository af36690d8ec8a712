import type { StoreHost } from '../store/host.js';
import { canOpenDedicated, openDedicated, type DedicatedConnection } from '../db/dedicated.js';
import { notifySend } from '../db/queries/notify.js';
import { vacuumCandidates, vacuumStatement } from '../db/queries/vacuum.js';
import { workerReleaseDead } from '../db/queries/worker.js';
import { maintenanceCandidates } from '../db/queries/queue-due.js';
import { BackoffTimer } from './backoff-timer.js';
import { isDatabaseUnavailable } from '../core/connection-errors.js';
import { describeError } from '../core/outcome.js';
import type { JobStore } from '../store/job-store.js';
import type { WorkerEventEmitter } from './events.js';
import { sweepEnqueueKeys } from './enqueue-keys.js';
import { RetentionPruner } from './retention.js';
import { trackedPrune } from '../db/queries/tracked.js';

/** Vacuum a queue table once it holds this many dead rows, and this many per live row, ... */
const VACUUM_MIN_DEAD = 10_000;
const VACUUM_DEAD_RATIO = 0.2;
/** ... unless it was vacuumed (by us or autovacuum) this recently. */
const VACUUM_QUIET_MS = 30_000;

/** Queues a round visits in turn whatever the candidates query says (see runTasks). */
const MAINTENANCE_SWEEP = 1;

/** A leader connection that does not answer this fast is presumed dead: resign, let another take over. */
const LEADER_CHECK_TIMEOUT_MS = 5_000;
/**
 * Longest wait between rounds while they keep failing (unless the interval itself is longer): leadership,
 * dead-worker release and cron resume at most this late after an outage.
 */
const FAILURE_BACKOFF_MAX_MS = 10_000;

export interface MaintenanceOptions {
  arbiter: StoreHost;
  workerId: string;
  connectionString: string | undefined;
  intervalMs: number;
  deadWorkerThresholdMs: number;
  staleMaxAgeMs: number;
  /** How often groups are recomputed (refreshGroups). */
  groupRefreshIntervalMs: number;
  events: WorkerEventEmitter;
}

/**
 * Leader-only housekeeping. One worker per schema is elected by holding a session advisory lock on a
 * dedicated connection; if that worker dies, its connection closes, the lock is freed and another worker
 * takes over at its next tick. Each tick the leader:
 * 1. releases the jobs of workers silent past the dead-worker threshold;
 * 2. stale recovery tier 2: jobs claimed longer than `staleMaxAgeMs` ago go to the dead-letter table;
 * 3. stale recovery tier 1: expired leases with attempts left go back to retry now;
 * 4. jobs whose lease expired on their final attempt go to the dead-letter table (reapExhausted);
 * 5. now and then, groups are recomputed to correct drift (refreshGroups);
 * 6. a job or group table whose dead rows pile up (autovacuum off, or behind) is vacuumed;
 * 7. history rows and dead letters past their queue's retention are deleted, in small batches, and the
 *    durable steps of jobs gone from the queue, its history and its dead letters (retention.ts);
 * 8. enqueue-control keys past their period are deleted, in small batches (enqueue-keys.ts).
 * A failed round (the database is down: even electing opens a connection) delays the next: the waits
 * double from the interval up to 10 s, and the interval's own ticks are skipped meanwhile.
 */
export class Maintenance {
  private conn: DedicatedConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastGroupRefresh = Date.now();
  private refreshPending = new Set<string>();
  private sweepNext = 0;
  private leader = false;
  private stopped = false;
  private readonly backoff: BackoffTimer;
  private readonly retention: RetentionPruner;

  constructor(private readonly o: MaintenanceOptions) {
    this.retention = new RetentionPruner({ arbiter: o.arbiter, events: o.events });
    this.backoff = new BackoffTimer(o.intervalMs, FAILURE_BACKOFF_MAX_MS, () => this.tickSoon());
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (!canOpenDedicated(this.o.arbiter.db, this.o.connectionString)) {
      this.o.events.emit('error', {
        error: new Error('maintenance needs a pg Pool or connectionString for leader election; disabled'),
        context: 'maintenance:start',
      });
      return;
    }
    this.timer ??= setInterval(() => this.tickSoon(), this.o.intervalMs);
    this.tickSoon();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.backoff.cancel();
    // Bounded: a tick stuck waiting for a connection must not hold up shutdown (it resigns by itself).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((r) => (timer = setTimeout(r, LEADER_CHECK_TIMEOUT_MS)))]);
    clearTimeout(timer);
    await this.resign();
  }

  private tickSoon(): void {
    // While backing off, the interval's ticks are skipped: the backoff's callback runs the next round.
    if (this.backoff.waiting) return;
    this.running ??= this.tick().finally(() => (this.running = undefined));
  }

  /** One maintenance round; a no-op unless this worker is (or becomes) the leader. */
  async tick(): Promise<void> {
    try {
      if (this.stopped) return;
      if (await this.elect()) await this.runTasks();
      this.backoff.succeeded();
    } catch (error) {
      this.o.events.emit('error', { error, context: 'maintenance' });
      await this.resign(true);
      // Only an unavailable database slows the rounds down; a round failing for another reason is
      // retried at the usual interval.
      if (!this.stopped && isDatabaseUnavailable(error)) this.backoff.failed();
    }
  }

  private lockKey(): string {
    return `arbiter:maintenance:${this.o.arbiter.schema}`;
  }

  private async elect(): Promise<boolean> {
    if (this.conn) {
      // Still connected means still holding the lock; a broken connection throws and we resign.
      await this.conn.query('SELECT 1', [], LEADER_CHECK_TIMEOUT_MS);
      return true;
    }
    const conn = await openDedicated(this.o.arbiter.db, this.o.connectionString);
    if (this.stopped) {
      await conn.close('reuse');
      return false;
    }
    try {
      const rows = await conn.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok',
        [this.lockKey()],
        LEADER_CHECK_TIMEOUT_MS,
      );
      if (!rows[0]?.ok) {
        // Not elected: this connection holds nothing, so it can go back to the pool.
        await conn.close('reuse');
        return false;
      }
    } catch (error) {
      await conn.close();
      throw error;
    }
    this.conn = conn;
    conn.onError(() => {
      if (this.conn === conn) void this.resign(true);
    });
    this.leader = true;
    this.o.events.emit('maintenance:leader', { workerId: this.o.workerId, leader: true });
    return true;
  }

  private async resign(broken = false): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    if (!broken) {
      await conn
        .query(
          'SELECT pg_advisory_unlock(hashtextextended($1, 0))',
          [this.lockKey()],
          LEADER_CHECK_TIMEOUT_MS,
        )
        .catch(() => undefined);
    }
    // Destroy rather than pool the connection: a session lock must never leak to another pool user.
    await conn.close();
    if (this.leader) this.o.events.emit('maintenance:leader', { workerId: this.o.workerId, leader: false });
    this.leader = false;
  }

  private async runTasks(): Promise<void> {
    const { arbiter, events } = this.o;
    const released = await workerReleaseDead(arbiter.db, arbiter.schema, this.o.deadWorkerThresholdMs);
    if (released.workers.length > 0) {
      events.emit('maintenance:workers-released', {
        workers: released.workers,
        jobs: Object.fromEntries(released.jobs),
      });
      for (const queue of released.jobs.keys()) await notifySend(arbiter.db, arbiter.schema, queue);
    }
    const queues = (await arbiter.listQueues()).map((q) => q.name);
    // Per-queue work only where there can be some, so an idle queue costs a round nothing: the queues
    // whose due bound has come (expired leases and exhausted jobs make it come), and a few in turn
    // (MAINTENANCE_SWEEP per round), which covers what no bound shows: leases extended for longer than
    // staleMaxAgeMs, statistics that lag behind the tables.
    const found = await maintenanceCandidates(arbiter.db, arbiter.schema);
    const slice = new Set<string>();
    for (let i = 0; i < Math.min(MAINTENANCE_SWEEP, queues.length); i++)
      slice.add(queues[this.sweepNext++ % queues.length]!);
    for (const name of queues) {
      if (!found.due.has(name) && !slice.has(name)) continue;
      const store = arbiter.store(name);
      await this.recoverStale(store);
      await this.reapExhausted(store);
    }
    if (Date.now() - this.lastGroupRefresh >= this.o.groupRefreshIntervalMs) {
      this.lastGroupRefresh = Date.now();
      this.refreshPending = new Set(queues);
    }
    // Group refreshes: every queue once per groupRefreshIntervalMs, at most MAINTENANCE_SWEEP per round.
    let refreshed = 0;
    for (const name of this.refreshPending) {
      if (refreshed++ >= MAINTENANCE_SWEEP) break;
      this.refreshPending.delete(name);
      if (queues.includes(name)) await arbiter.store(name).refreshGroups(0);
    }
    await this.vacuum(queues);
    await this.pruneRetention(new Set([...found.stored, ...slice]));
    await this.sweepKeys(queues.filter((q) => found.keyed.has(q) || slice.has(q)));
    await this.pruneTracked();
  }

  /**
   * Records of awaited results and finished flows past their retention (one statement, at most 500 rows
   * of each kind a round); a failure is reported, like retention's.
   */
  private async pruneTracked(): Promise<void> {
    try {
      await trackedPrune(this.o.arbiter.db, this.o.arbiter.schema, 500);
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      this.o.events.emit('error', { error, context: 'maintenance:results' });
    }
  }

  /** Enqueue-control keys (enqueue-keys.ts); a failure is reported, like retention's. */
  private async sweepKeys(queues: string[]): Promise<void> {
    try {
      await sweepEnqueueKeys(this.o.arbiter, queues, () => this.stopped);
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      this.o.events.emit('error', { error, context: 'maintenance:enqueue-keys' });
    }
  }

  /** Retention failing (a lock timeout, a table being altered) is reported, not a reason to resign. */
  private async pruneRetention(only: ReadonlySet<string>): Promise<void> {
    try {
      await this.retention.round(() => this.stopped, only);
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      this.o.events.emit('error', { error, context: 'maintenance:retention' });
    }
  }

  /**
   * Vacuums the queue tables that autovacuum left behind. Its per-table settings (set at createQueue)
   * normally get there first; this covers a server with autovacuum off or throttled, where a busy queue
   * would otherwise slow down by the minute (measured with autovacuum off: 8.7k jobs/s in the first
   * minute, 530/s in the second, with a million dead rows in the job table).
   */
  private async vacuum(queues: string[]): Promise<void> {
    const { arbiter, events } = this.o;
    const conn = this.conn;
    if (!conn || queues.length === 0) return;
    const candidates = await vacuumCandidates(
      arbiter.db,
      arbiter.schema,
      queues,
      VACUUM_MIN_DEAD,
      VACUUM_DEAD_RATIO,
      VACUUM_QUIET_MS,
    );
    for (const c of candidates) {
      if (this.stopped) return;
      const started = performance.now();
      // On the leader's own session: VACUUM cannot run in a transaction, and it blocks no claim or write.
      await conn.query(vacuumStatement(arbiter.schema, c.table));
      events.emit('maintenance:vacuumed', {
        queue: c.queue,
        table: c.table,
        deadTuples: c.deadTuples,
        durationMs: performance.now() - started,
      });
    }
  }

  private async recoverStale(store: JobStore): Promise<void> {
    let dead = 0;
    for (const job of await store.ancientStale(this.o.staleMaxAgeMs, 500)) {
      const error = `stale: claimed at ${job.claimedAt?.toISOString()} and never finished (older than ${this.o.staleMaxAgeMs} ms)`;
      if (
        (await store.deadLetterStale([{ id: job.id, attempts: job.attempts, error: describeError(error) }])) >
        0
      ) {
        dead++;
        this.o.events.emit('job:dead', { queue: store.queue, job, error });
      }
    }
    const retried = await store.recoverStale(this.o.staleMaxAgeMs);
    // The released rows wake workers through the queue's notify trigger (a release is a transition to ready).
    if (retried + dead > 0)
      this.o.events.emit('maintenance:stale-recovered', { queue: store.queue, retried, dead });
  }

  private async reapExhausted(store: JobStore): Promise<void> {
    const count = await store.reapExhausted(1000);
    if (count > 0) this.o.events.emit('maintenance:exhausted-reaped', { queue: store.queue, count });
  }
}
