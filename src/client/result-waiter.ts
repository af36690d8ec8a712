import { canOpenDedicated, openDedicated, type DedicatedConnection } from '../db/dedicated.js';
import type { Executor } from '../db/executor.js';
import { trackedRead, type TrackedRow } from '../db/queries/tracked.js';

/** The channel a tracked job's end is announced on ("queue:id:state"; see migration 0012). */
export function doneChannel(schema: string): string {
  return `arbiter.done:${schema}`.slice(0, 63);
}

/** Polls between notifications grow from this to MAX_POLL_MS: the floor if a notification is lost. */
const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 2_000;
/** A LISTEN connection with nobody waiting is closed after this long. */
const IDLE_CLOSE_MS = 5_000;

interface Waiter {
  queue: string;
  id: string;
  done: (row: TrackedRow | null, err?: unknown) => void;
}

/**
 * Waits for tracked jobs to finish, for any number of callers of one Arbiter: one LISTEN connection
 * (opened on the first wait, closed when nobody has waited for a while) on the schema's completion channel,
 * and a poll that backs off to every 2 s as the floor (a notification lost while the connection was down
 * only delays an answer). Without a pool or connection string to take a connection from, it only polls.
 */
export class ResultWaiter {
  private conn: DedicatedConnection | undefined;
  private connecting: Promise<void> | undefined;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Executor,
    private readonly schema: string,
  ) {}

  /**
   * Resolves with the job's record once it is no longer pending (or null when no record exists), or
   * rejects with `onTimeout()` after `timeoutMs`.
   */
  async wait(
    queue: string,
    id: string,
    timeoutMs: number,
    onTimeout: () => Error,
  ): Promise<TrackedRow | null> {
    clearTimeout(this.idleTimer);
    await this.listen();
    return new Promise<TrackedRow | null>((resolve, reject) => {
      const key = `${queue}:${id}`;
      let pollTimer: NodeJS.Timeout | undefined;
      let pollMs = FIRST_POLL_MS;
      let settled = false;
      const finish = (row: TrackedRow | null, err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(pollTimer);
        clearTimeout(deadline);
        const set = this.waiters.get(key);
        set?.delete(w);
        if (set?.size === 0) this.waiters.delete(key);
        this.maybeIdle();
        if (err !== undefined) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(row);
      };
      const w: Waiter = { queue, id, done: finish };
      const set = this.waiters.get(key) ?? new Set<Waiter>();
      set.add(w);
      this.waiters.set(key, set);
      const deadline = setTimeout(() => finish(null, onTimeout()), timeoutMs);
      const poll = () => {
        void this.check(w).finally(() => {
          if (settled) return;
          pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
          pollTimer = setTimeout(poll, pollMs);
        });
      };
      // The first read comes after LISTEN is in place: an end committed before it is read here, one
      // committed after it is announced.
      poll();
    });
  }

  /** Reads a waiter's record and settles it when the job is no longer pending. */
  private async check(w: Waiter): Promise<void> {
    try {
      const [row] = await trackedRead(this.db, this.schema, [{ queue: w.queue, id: w.id }]);
      if (row === undefined) w.done(null);
      else if (row.state !== 'unfinished') w.done(row);
    } catch (err) {
      w.done(null, err);
    }
  }

  private async listen(): Promise<void> {
    if (this.conn || this.closed || !canOpenDedicated(this.db)) return;
    this.connecting ??= (async () => {
      try {
        const conn = await openDedicated(this.db);
        conn.onNotification((_channel, payload) => this.notified(payload));
        conn.onError(() => {
          if (this.conn === conn) this.conn = undefined;
          void conn.close();
        });
        await conn.query(`LISTEN "${doneChannel(this.schema).replaceAll('"', '""')}"`);
        this.conn = conn;
      } catch {
        // Polling alone still answers; the next wait tries to listen again.
      } finally {
        this.connecting = undefined;
      }
    })();
    await this.connecting;
  }

  private notified(payload: string): void {
    const last = payload.lastIndexOf(':');
    const key = last > 0 ? payload.slice(0, last) : payload;
    const set = this.waiters.get(key);
    if (!set) return;
    for (const w of set) void this.check(w);
  }

  private maybeIdle(): void {
    if (this.waiters.size > 0 || !this.conn) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.waiters.size > 0) return;
      const conn = this.conn;
      this.conn = undefined;
      void conn?.close();
    }, IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const set of this.waiters.values()) for (const w of set) w.done(null, new Error('arbiter closed'));
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close();
  }
}
