import {
  checkCron,
  checkMissedPolicy,
  cronNextTick,
  cronPrevTick,
  type CronMissedPolicy,
} from '../core/cron.js';
import { encodePayload } from '../core/payload.js';
import { checkOptions } from '../core/validate.js';
import { validateQueueName } from '../core/identifiers.js';
import {
  CronScheduleExistsError,
  CronScheduleNotFoundError,
  QueueNotFoundError,
  ValidationError,
} from '../errors.js';
import type { Executor } from '../db/executor.js';
import {
  CRON_NOTICE,
  cronDelete,
  cronInsert,
  cronRows,
  cronSetPaused,
  cronUpdate,
  dbNow,
  type CronDefinition,
  type CronRow,
} from '../db/queries/cron.js';
import { notifyChannel } from '../db/queries/notify.js';
import { queueGet } from '../db/queries/queue.js';

/** A recurring schedule as stored: from a worker's `cron` option (`source: 'code'`) or added at runtime. */
export interface CronScheduleInfo {
  name: string;
  queue: string;
  pattern: string;
  tz: string;
  /** The job payload; null for a code schedule whose payload is a function of the tick. */
  payload: unknown;
  overlap: 'skip' | 'allow';
  missed: CronMissedPolicy;
  catchUpMax: number;
  paused: boolean;
  source: 'code' | 'runtime';
  /** A code schedule changed at runtime: deploys no longer rewrite its definition. */
  overridden: boolean;
  lastTick: Date | null;
  lastJobId: string | null;
  /** The next tick it will fire (null while paused, or when the expression has none left). */
  nextTick: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A schedule to add at runtime. */
export interface CronScheduleInput {
  /** 1 to 200 characters, unique in the schema (code and runtime schedules share names). */
  name: string;
  /** An existing queue. */
  queue: string;
  /** 5 fields, or 6 with seconds first. */
  pattern: string;
  /** IANA time zone. Default "UTC". */
  tz?: string;
  /** JSON payload of each job. Default `{}`. */
  payload?: unknown;
  /** `skip` (default): no new job while the previous tick's job is still queued or running. */
  overlap?: 'skip' | 'allow';
  /** Ticks missed while no worker ran: `once` (default), `skip` or `catch-up` (up to `catchUpMax`). */
  missed?: CronMissedPolicy;
  /** With `catch-up`: the most missed ticks fired, 1 to 1,000. Default 10. */
  catchUpMax?: number;
  /** Add it paused. Default false. */
  paused?: boolean;
}

/** What `set` may change; fields left out stay as they are. */
export type CronSchedulePatch = Partial<Omit<CronScheduleInput, 'name' | 'paused'>>;

const INPUT_KEYS = [
  'name',
  'queue',
  'pattern',
  'tz',
  'payload',
  'overlap',
  'missed',
  'catchUpMax',
  'paused',
] as const;
const PATCH_KEYS = ['queue', 'pattern', 'tz', 'payload', 'overlap', 'missed', 'catchUpMax'] as const;

interface Host {
  readonly db: Executor;
  readonly schema: string;
  readonly maxPayloadBytes: number;
  checkSchema(): Promise<void>;
}

/**
 * Recurring schedules managed at runtime, without a deploy: list, add, change (`set`), pause, resume and
 * remove. Every change is one transaction that also notifies the workers (they re-read the schedules at
 * once; poll-only workers within `cronCheckIntervalMs`, one second by default). Schedules from code (a
 * worker's `cron` option) are listed and can be changed, paused and removed too:
 * - a change made here marks a code schedule `overridden`, and deploys leave its definition alone from
 *   then on (remove it to hand it back to code: the next worker start registers the code definition);
 * - a pause survives every deploy; a deploy rewrites a code schedule that is not overridden only when its
 *   definition in code changed;
 * - a removed code schedule stops firing at once and comes back when a worker that has it in code starts.
 */
export class CronSchedules {
  constructor(private readonly host: Host) {}

  /** Every schedule, by name. */
  async list(): Promise<CronScheduleInfo[]> {
    await this.host.checkSchema();
    const [rows, now] = await Promise.all([cronRows(this.host.db, this.host.schema), dbNow(this.host.db)]);
    return rows.map((r) => toInfo(r, now));
  }

  /** One schedule, or null. */
  async get(name: string): Promise<CronScheduleInfo | null> {
    checkName(name);
    await this.host.checkSchema();
    const [rows, now] = await Promise.all([
      cronRows(this.host.db, this.host.schema, [name]),
      dbNow(this.host.db),
    ]);
    return rows[0] ? toInfo(rows[0], now) : null;
  }

  /**
   * Adds a schedule. It fires from its next tick on (not for the past). CronScheduleExistsError when the
   * name is taken; QueueNotFoundError when the queue does not exist. Validated before anything is written.
   */
  async add(input: CronScheduleInput): Promise<CronScheduleInfo> {
    const o = checkOptions<CronScheduleInput>(input, 'schedule', INPUT_KEYS);
    checkName(o.name);
    const def = this.definition({ ...o, name: o.name }, 'schedule');
    const paused = o.paused ?? false;
    if (typeof paused !== 'boolean')
      throw new ValidationError('schedule.paused', paused, 'must be a boolean');
    await this.host.checkSchema();
    return this.write(async (tx, now) => {
      await this.queueMustExist(tx, def.queue);
      const row = await cronInsert(tx, this.host.schema, {
        ...def,
        paused,
        initialTick: cronPrevTick(def.pattern, def.tz, now) ?? new Date(0),
      });
      if (!row) throw new CronScheduleExistsError(def.name);
      return row;
    });
  }

  /**
   * Changes a schedule (code or runtime). A new expression or time zone restarts it from its next tick.
   * CronScheduleNotFoundError when there is none.
   */
  async set(name: string, patch: CronSchedulePatch): Promise<CronScheduleInfo> {
    checkName(name);
    const p = checkOptions<CronSchedulePatch>(patch, 'patch', PATCH_KEYS);
    await this.host.checkSchema();
    return this.write(async (tx, now) => {
      const [current] = await cronRows(tx, this.host.schema, [name]);
      if (!current) throw new CronScheduleNotFoundError(name);
      const def = this.definition(
        {
          name,
          queue: p.queue ?? current.queue,
          pattern: p.pattern ?? current.pattern,
          tz: p.tz ?? current.tz,
          payload: 'payload' in p ? p.payload : current.payload,
          overlap: p.overlap ?? current.overlap,
          missed: p.missed ?? current.missed,
          catchUpMax: p.catchUpMax ?? current.catch_up_max,
        },
        'patch',
        current.payload === null && !('payload' in p),
      );
      if (def.queue !== current.queue) await this.queueMustExist(tx, def.queue);
      const restart = def.pattern !== current.pattern || def.tz !== current.tz;
      const row = await cronUpdate(tx, this.host.schema, {
        ...def,
        initialTick: restart ? (cronPrevTick(def.pattern, def.tz, now) ?? new Date(0)) : null,
      });
      if (!row) throw new CronScheduleNotFoundError(name);
      return row;
    });
  }

  /** Stops a schedule firing (until resumed; deploys do not resume it). */
  pause(name: string): Promise<CronScheduleInfo> {
    return this.setPaused(name, true);
  }

  /** Lets a paused schedule fire again, from its next tick (the ticks of the pause are not fired). */
  resume(name: string): Promise<CronScheduleInfo> {
    return this.setPaused(name, false);
  }

  /** Removes a schedule. False when there was none. */
  async remove(name: string): Promise<boolean> {
    checkName(name);
    await this.host.checkSchema();
    return this.host.db.transaction(async (tx) => {
      const removed = await cronDelete(tx, this.host.schema, name);
      if (removed) await notify(tx, this.host.schema);
      return removed;
    });
  }

  private async setPaused(name: string, paused: boolean): Promise<CronScheduleInfo> {
    checkName(name);
    await this.host.checkSchema();
    return this.write(async (tx) => {
      const row = await cronSetPaused(tx, this.host.schema, name, paused);
      if (!row) throw new CronScheduleNotFoundError(name);
      return row;
    });
  }

  private async write(fn: (tx: Executor, now: Date) => Promise<CronRow>): Promise<CronScheduleInfo> {
    const { row, now } = await this.host.db.transaction(async (tx) => {
      const now = await dbNow(tx);
      const row = await fn(tx, now);
      await notify(tx, this.host.schema);
      return { row, now };
    });
    return toInfo(row, now);
  }

  private async queueMustExist(tx: Executor, queue: string): Promise<void> {
    if (!(await queueGet(tx, this.host.schema, queue))) throw new QueueNotFoundError(this.host.schema, queue);
  }

  /** Validates a whole definition (throws ValidationError); `keepFunction` keeps a code payload function. */
  private definition(
    d: { name: string } & Partial<Omit<CronScheduleInput, 'name' | 'paused'>>,
    field: string,
    keepFunction = false,
  ): CronDefinition {
    const queue = validateQueueName(d.queue, `${field}.queue`);
    const tz = d.tz ?? 'UTC';
    checkCron(d.pattern, tz, field);
    const overlap = d.overlap ?? 'skip';
    if (overlap !== 'skip' && overlap !== 'allow') {
      throw new ValidationError(`${field}.overlap`, overlap, "must be 'skip' or 'allow'");
    }
    const { missed, catchUpMax } = checkMissedPolicy(d.missed, d.catchUpMax, field);
    const payload = keepFunction ? null : encodePayload(d.payload ?? {}, this.host.maxPayloadBytes);
    const pattern = d.pattern as string; // checked by checkCron
    return { name: d.name, queue, pattern, tz, payload, overlap, missed, catchUpMax };
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ValidationError('name', name, 'must be a string of 1 to 200 characters');
  }
}

async function notify(tx: Executor, schema: string): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), CRON_NOTICE]);
}

function toInfo(r: CronRow, now: Date): CronScheduleInfo {
  return {
    name: r.name,
    queue: r.queue,
    pattern: r.pattern,
    tz: r.tz,
    payload: r.payload,
    overlap: r.overlap,
    missed: r.missed,
    catchUpMax: r.catch_up_max,
    paused: r.paused,
    source: r.source,
    overridden: r.overridden,
    lastTick: r.last_tick,
    lastJobId: r.last_job_id,
    nextTick: r.paused
      ? null
      : cronNextTick(r.pattern, r.tz, r.last_tick && r.last_tick > now ? r.last_tick : now),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
