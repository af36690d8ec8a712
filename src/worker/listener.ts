import { openDedicated, type DedicatedConnection } from '../db/dedicated.js';
import type { Executor } from '../db/executor.js';
import { quoteIdent } from '../db/sql.js';
import { notifyChannel, notifyMissingTriggers, notifyRepairTriggers } from '../db/queries/notify.js';
import { parseCancelNotice } from '../db/queries/job-cancel.js';
import type { WorkerEventEmitter } from './events.js';

export interface ListenerOptions {
  db: Executor;
  schema: string;
  queues: readonly string[];
  connectionString: string | undefined;
  checkIntervalMs: number;
  checkTimeoutMs: number;
  triggerCheckIntervalMs: number;
  events: WorkerEventEmitter;
  /** Called with the queue name on every notification, and with null after (re)connecting. */
  onWake: (queue: string | null) => void;
  /** Called when jobs of `queue` were cancelled while leased (the worker holding them aborts them). */
  onCancel?: (queue: string, ids: string[]) => void;
  /** Called on every other notice whose payload starts with '!' (runtime cron changes and the like). */
  onNotice?: (payload: string) => void;
}

/**
 * Longest wait between reconnect attempts. Until LISTEN is back, wake-ups are lost and jobs wait for the
 * poll: after an outage that should last seconds, not half a minute. One attempt per 5 s costs nothing.
 */
const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * The LISTEN side of wake-ups. NOTIFY is only a hint (polling is the floor), so this service's job is to
 * notice when hints stop arriving: every `checkIntervalMs` it runs `SELECT 1` and checks
 * `pg_listening_channels()` on the LISTEN connection with a timeout; a failure, a timeout or a missing
 * channel drops the connection and reconnects with exponential backoff. After every (re)connect it wakes
 * the fetcher, since notifications sent while it was away are lost. It also checks the notify triggers
 * and recreates any that went missing (the trigger health check and repair).
 */
export class Listener {
  private conn: DedicatedConnection | undefined;
  private stopped = true;
  private checkTimer: NodeJS.Timeout | undefined;
  private triggerTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private connecting: Promise<void> | undefined;
  readonly channel: string;

  constructor(private readonly o: ListenerOptions) {
    this.channel = notifyChannel(o.schema);
  }

  /** The backend pid of the LISTEN connection (null while disconnected). */
  get pid(): number | null {
    return this.conn?.pid ?? null;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.checkTriggers();
    await this.connect();
    this.checkTimer = setInterval(() => void this.check(), this.o.checkIntervalMs);
    this.triggerTimer = setInterval(() => void this.checkTriggers(), this.o.triggerCheckIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.checkTimer, this.triggerTimer]) if (t) clearInterval(t);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    // A connect in progress is not awaited (it may wait on an exhausted pool); it closes itself once it
    // sees the listener stopped.
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    if (this.stopped) return;
    let conn: DedicatedConnection | undefined;
    try {
      conn = await openDedicated(this.o.db, this.o.connectionString);
      const current = conn;
      current.onNotification((channel, payload) => {
        if (channel !== this.channel) return;
        if (payload.startsWith('!')) {
          const cancel = parseCancelNotice(payload);
          if (cancel) this.o.onCancel?.(cancel.queue, cancel.ids);
          else this.o.onNotice?.(payload);
          return;
        }
        this.o.onWake(payload || null);
      });
      current.onError(() => {
        if (this.conn === current) this.drop();
      });
      await current.query(`LISTEN ${quoteIdent(this.channel)}`, [], this.o.checkTimeoutMs);
      if (this.stopped) {
        await current.close();
        return;
      }
      this.conn = current;
      const attempt = this.attempt;
      this.attempt = 0;
      if (attempt > 0) this.o.events.emit('listener:reconnected', { channel: this.channel, attempt });
      else this.o.events.emit('listener:connected', { channel: this.channel });
      // Anything notified while we were not listening is lost: look now.
      this.o.onWake(null);
    } catch (error) {
      await conn?.close();
      this.o.events.emit('error', { error, context: 'listener:connect' });
      this.scheduleReconnect();
    }
  }

  /** Drops a dead connection and schedules a reconnect. */
  private drop(): void {
    const conn = this.conn;
    this.conn = undefined;
    void conn?.close();
    if (!this.stopped) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = Math.min(100 * 2 ** this.attempt, MAX_RECONNECT_DELAY_MS);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** Health check: the connection answers and is still subscribed to our channel. */
  async check(): Promise<void> {
    const conn = this.conn;
    if (!conn || this.stopped) return;
    try {
      const rows = await conn.query<{ ok: boolean }>(
        'SELECT $1::text IN (SELECT pg_listening_channels()) AS ok',
        [this.channel],
        this.o.checkTimeoutMs,
      );
      if (!rows[0]?.ok) {
        // Still connected but no longer subscribed (e.g. a pooler swapped the session): subscribe again.
        await conn.query(`LISTEN ${quoteIdent(this.channel)}`, [], this.o.checkTimeoutMs);
        this.o.events.emit('listener:reconnected', { channel: this.channel, attempt: 0 });
        this.o.onWake(null);
      }
    } catch (error) {
      if (this.conn === conn) {
        this.o.events.emit('error', { error, context: 'listener:health-check' });
        this.attempt = Math.max(this.attempt, 1);
        this.drop();
      }
    }
  }

  /** Recreates missing notify triggers for our queues. */
  async checkTriggers(): Promise<void> {
    try {
      const missing = await notifyMissingTriggers(this.o.db, this.o.schema, this.o.queues);
      for (const queue of missing) {
        await notifyRepairTriggers(this.o.db, this.o.schema, queue);
        this.o.events.emit('listener:trigger-repaired', { queue });
      }
    } catch (error) {
      this.o.events.emit('error', { error, context: 'listener:trigger-check' });
    }
  }
}
