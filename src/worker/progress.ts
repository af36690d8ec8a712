import { encodePayload } from '../core/payload.js';
import { isPlainObject } from '../core/validate.js';
import { MAX_LOG_LINES, type LogLine, type ProgressWrite } from '../db/queries/job-progress.js';
import { ValidationError } from '../errors.js';
import type { Job } from '../types.js';
import type { Clock, TimerHandle } from './clock.js';
import type { WorkerEventEmitter } from './events.js';

/** A job writes its report at most once per this many ms; the last value is written when the handler ends. */
export const REPORT_INTERVAL_MS = 1000;
/** Largest progress value (JSON), in bytes. */
export const MAX_PROGRESS_BYTES = 4 * 1024;
/** Largest metadata of one attempt (all its patches merged, as JSON), in bytes. */
export const MAX_REPORT_META_BYTES = 64 * 1024;
/** Log lines longer than this many UTF-8 bytes are cut (ending in `…`). */
export const MAX_LOG_LINE_BYTES = 2048;

/** Where a reporter's writes go: a fenced write (false when the attempt no longer holds the job). */
export type ReportSink = (job: Job, write: ProgressWrite) => Promise<boolean>;

export interface ReporterEnv {
  sink: ReportSink;
  /**
   * Takes back a write handed to the sink and not yet sent (true when taken back). With it, `finish`
   * returns such a write, merged with what is still pending, for the job's outcome to carry.
   */
  withdraw?: (job: Job, write: ProgressWrite) => boolean;
  clock: Clock;
  events: WorkerEventEmitter;
  queue: string;
}

/** A log line as stored: without NUL, at most MAX_LOG_LINE_BYTES UTF-8 bytes. */
export function cutLogLine(message: string): string {
  const clean = message.replaceAll('\u0000', '');
  if (clean.length * 3 <= MAX_LOG_LINE_BYTES || Buffer.byteLength(clean) <= MAX_LOG_LINE_BYTES) return clean;
  const buf = Buffer.from(clean).subarray(0, MAX_LOG_LINE_BYTES - 3);
  // Drop a character cut in half (its bytes decode to U+FFFD at the end).
  return buf.toString('utf8').replace(/\uFFFD$/, '') + '…';
}

/** Reporters with a write due now: all sent on the next turn of the event loop, by one immediate. */
let dueNow: JobReporter[] = [];

function sendDue(): void {
  const list = dueNow;
  dueNow = [];
  for (const r of list) r.sendIfDue();
}

/**
 * What one running job reports (`ctx.progress`, `ctx.setMeta`, `ctx.log`), coalesced: the first call
 * writes at once, later ones at most once per REPORT_INTERVAL_MS, and `finish` hands back whatever is
 * still unwritten, for the job's outcome to write in the same statement (a short job that reports once
 * costs no transaction of its own). Writes are fenced (the sink's statement checks the attempt
 * and its lease): once one is refused, the reporter stops writing. Created on a handler's first report,
 * so jobs that never report cost nothing.
 */
export class JobReporter {
  private progress: string | null = null;
  private metaPatch: Record<string, unknown> | null = null;
  /** This attempt's metadata, all patches merged: bounds what one attempt can store. */
  private metaAll: Record<string, unknown> = {};
  private logs: LogLine[] = [];
  private lastWrite = -Infinity;
  private timer: TimerHandle | undefined;
  /**
   * A write due now leaves on the next turn of the event loop (see sendDue): a handler that returns first
   * hands it back instead.
   */
  private due = false;
  private inFlight: Promise<void> | undefined;
  /** The write in flight, and what it was made of (to take it back into the pending report). */
  private sent:
    | { write: ProgressWrite; progress: string | null; meta: Record<string, unknown> | null; logs: LogLine[] }
    | undefined;
  /** Fenced off (the attempt no longer holds the job) or finished. */
  private stopped = false;
  private closing = false;

  constructor(
    private readonly job: Job,
    private readonly env: ReporterEnv,
  ) {}

  setProgress(value: unknown): void {
    if (!(typeof value === 'number' && Number.isFinite(value)) && !isPlainObject(value)) {
      throw new ValidationError('progress', value, 'must be a finite number or a plain object');
    }
    const text =
      typeof value === 'number' ? JSON.stringify(value) : encode('progress', value, MAX_PROGRESS_BYTES);
    this.progress = text;
    const events = this.env.events;
    if (events.listenerCount('job:progress') > 0) {
      events.emit('job:progress', { queue: this.env.queue, job: this.job, progress: value });
    }
    this.schedule();
  }

  setMeta(patch: unknown): void {
    if (!isPlainObject(patch)) throw new ValidationError('meta', patch, 'must be a plain object');
    const merged = { ...this.metaAll, ...patch };
    encode('meta', merged, MAX_REPORT_META_BYTES);
    this.metaAll = merged;
    this.metaPatch = { ...this.metaPatch, ...patch };
    const events = this.env.events;
    if (events.listenerCount('job:progress') > 0) {
      events.emit('job:progress', { queue: this.env.queue, job: this.job, meta: patch });
    }
    this.schedule();
  }

  log(message: unknown): void {
    if (typeof message !== 'string') throw new ValidationError('message', message, 'must be a string');
    const line: LogLine = { at: Date.now(), attempt: this.job.attempts, message: cutLogLine(message) };
    this.logs.push(line);
    if (this.logs.length > MAX_LOG_LINES) this.logs.splice(0, this.logs.length - MAX_LOG_LINES);
    const events = this.env.events;
    if (events.listenerCount('job:log') > 0) {
      events.emit('job:log', { queue: this.env.queue, job: this.job, message: line.message });
    }
    this.schedule();
  }

  /**
   * Stops reporting (later reports are dropped) and returns what is still unwritten, or null: the pending
   * report, and the last write too when the sink could take it back before it left. The caller writes it
   * with the job's outcome, fenced by it. At once, unless a write is already on its way: then a promise
   * that waits for it. Never rejects.
   */
  finish(): ProgressWrite | null | Promise<ProgressWrite | null> {
    this.closing = true;
    if (this.timer !== undefined) this.env.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const sent = this.sent;
    if (sent && this.env.withdraw?.(this.job, sent.write)) {
      this.progress ??= sent.progress;
      if (sent.meta) this.metaPatch = { ...sent.meta, ...this.metaPatch };
      this.logs = [...sent.logs, ...this.logs].slice(-MAX_LOG_LINES);
    }
    return this.inFlight ? this.inFlight.then(() => this.last()) : this.last();
  }

  /** The pending report as the last write (null: none, or fenced off); reporting stops. */
  private last(): ProgressWrite | null {
    const last = !this.stopped && this.pending() ? this.take() : null;
    this.stopped = true;
    return last;
  }

  /** Sends the write that was due now, unless finish took it back meanwhile (for sendDue). */
  sendIfDue(): void {
    if (!this.due) return;
    this.due = false;
    void this.flush();
  }

  private pending(): boolean {
    return this.progress !== null || this.metaPatch !== null || this.logs.length > 0;
  }

  private schedule(): void {
    if (this.stopped || this.closing || this.timer !== undefined || this.inFlight !== undefined) return;
    if (this.due) return;
    // The first write is due at once: no clock reading needed.
    const wait =
      this.lastWrite === -Infinity ? 0 : this.lastWrite + REPORT_INTERVAL_MS - this.env.clock.now();
    if (wait <= 0) {
      // Not in this turn: a handler that reports and returns at once has its report go with its outcome.
      this.due = true;
      if (dueNow.push(this) === 1) setImmediate(sendDue);
      return;
    }
    this.timer = this.env.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  /** The pending report as one write; pending is empty after. */
  private take(): ProgressWrite {
    const write: ProgressWrite = {
      id: this.job.id,
      attempts: this.job.attempts,
      progress: this.progress,
      meta: this.metaPatch && JSON.stringify(this.metaPatch),
      logs: this.logs.length > 0 ? JSON.stringify(this.logs) : null,
    };
    this.progress = null;
    this.metaPatch = null;
    this.logs = [];
    return write;
  }

  private flush(): Promise<void> {
    const parts = { progress: this.progress, meta: this.metaPatch, logs: this.logs };
    const write = this.take();
    this.sent = { write, ...parts };
    this.lastWrite = this.env.clock.now();
    const done = this.env
      .sink(this.job, write)
      .then(
        (ok) => {
          if (!ok) this.stopped = true; // fenced off: this attempt no longer holds the job
        },
        (error: unknown) => {
          this.env.events.emit('error', { error, context: `report:${this.env.queue}` });
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        this.sent = undefined;
        if (this.pending()) this.schedule();
      });
    this.inFlight = done;
    return done;
  }
}

function encode(field: string, value: unknown, maxBytes: number): string {
  try {
    return encodePayload(value, maxBytes);
  } catch (err) {
    throw new ValidationError(field, value, `cannot be stored: ${(err as Error).message}`);
  }
}
