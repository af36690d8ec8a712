import { createHash } from 'node:crypto';
import type { StoreHost } from '../store/host.js';
import { cronNextTick, cronPrevTick, cronTicksToFire } from '../core/cron.js';
import { encodePayload } from '../core/payload.js';
import {
  cronJobAlive,
  cronRows,
  cronSetLastJob,
  cronTakeTick,
  cronUpsert,
  dbNow,
  type CronRow,
} from '../db/queries/cron.js';
import { toJobInsert } from '../store/enqueue-options.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedCron } from './options.js';

export { CRON_NOTICE } from '../db/queries/cron.js';

/**
 * Recurring jobs. Each schedule is a row in `_cron` holding its definition and the last tick fired:
 * schedules from code (the worker's `cron` option, registered at start) and schedules added at runtime
 * (arbiter.cron). Every worker reads the table (each check, at most every `intervalMs`, and at once on a
 * change notice), checks it against database time (the only clock) and tries to take each due tick with
 * `UPDATE … WHERE last_tick < tick AND NOT paused` in the same transaction as the enqueue: exactly one
 * worker wins each tick, however many run, and a failed enqueue gives the tick back. Due ticks are found
 * by walking forward from the last one fired (see cronDueTick for the DST policy); ticks missed while no
 * worker ran follow the schedule's missed-tick policy (cronTicksToFire). Overlap `skip` enqueues nothing
 * (but consumes the tick) while the previous tick's job is still queued or running.
 */
export class CronScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly code: Map<string, ResolvedCron>;

  constructor(
    private readonly arbiter: StoreHost,
    schedules: readonly ResolvedCron[],
    private readonly intervalMs: number,
    private readonly events: WorkerEventEmitter,
    /** False for a queue that does not exist yet (waitForQueues): its schedules wait, ticks untaken. */
    private readonly queueReady: (queue: string) => boolean = () => true,
    /** Also fire the schedules of other workers and those added at runtime (not only ours from code). */
    private readonly runtime = false,
  ) {
    this.code = new Map(schedules.map((s) => [s.name, s]));
  }

  async start(): Promise<void> {
    if ((this.code.size === 0 && !this.runtime) || !this.stopped) return;
    this.stopped = false;
    await registerCodeSchedules(this.arbiter, [...this.code.values()]);
    this.arm(await dbNow(this.arbiter.db), []);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** A runtime change was announced: check now rather than at the next interval. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.check().finally(() => (this.running = undefined));
  }

  /** Next check: the poll interval, or the next tick if sooner (a few ms after it, in database time). */
  private arm(now: Date, rows: readonly CronRow[]): void {
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      this.timer = setTimeout(() => this.poke(), 0);
      return;
    }
    let wait = this.intervalMs;
    for (const s of rows) {
      if (s.paused) continue;
      const next = cronNextTick(s.pattern, s.tz, now);
      if (next) wait = Math.min(wait, Math.max(5, next.getTime() - now.getTime() + 5));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.check().finally(() => (this.running = undefined));
    }, wait);
  }

  /** Fires what is due. `at` replaces database time (pg-arbiter/testing's fireCron). */
  async check(at?: Date): Promise<void> {
    let now = at ?? new Date();
    let rows: CronRow[] = [];
    try {
      now = at ?? (await dbNow(this.arbiter.db));
      rows = await cronRows(
        this.arbiter.db,
        this.arbiter.schema,
        this.runtime ? undefined : [...this.code.keys()],
      );
      for (const row of rows) {
        if (row.paused || !this.queueReady(row.queue)) continue;
        // A code schedule is fired by the workers that have it in code (its payload may be a function of
        // the tick, and its enqueue options live there); a runtime one by any worker.
        const code = row.source === 'code' ? this.code.get(row.name) : undefined;
        if (row.source === 'code' && !code) continue;
        try {
          await this.fireDue(row, code, now);
        } catch (error) {
          this.events.emit('error', { error, context: `cron:${row.name}` });
        }
      }
    } catch (error) {
      this.events.emit('error', { error, context: 'cron' });
    } finally {
      this.arm(now, rows);
    }
  }

  private async fireDue(row: CronRow, code: ResolvedCron | undefined, now: Date): Promise<void> {
    if (row.last_tick === null) {
      const tick = cronPrevTick(row.pattern, row.tz, now);
      if (tick) await this.fire(row, code, tick);
      return;
    }
    const due = cronTicksToFire(row.pattern, row.tz, row.last_tick, now, row.missed, row.catch_up_max);
    if (due.latest === null) return;
    if (due.missed !== 0) {
      // Take the dropped ticks first (up to the latest one when none fires), so they are reported once.
      const through = due.fire.length > 0 ? new Date(due.fire[0]!.getTime() - 1) : due.latest;
      const taken = await this.arbiter.db.transaction((tx) =>
        cronTakeTick(tx, this.arbiter.schema, row.name, through),
      );
      if (!taken.taken) return;
      this.events.emit('cron:missed', {
        name: row.name,
        queue: row.queue,
        missed: due.missed,
        policy: row.missed,
        through,
      });
    }
    for (const tick of due.fire) await this.fire(row, code, tick);
  }

  private async fire(row: CronRow, code: ResolvedCron | undefined, tick: Date): Promise<void> {
    const { arbiter } = this;
    const result = await arbiter.db.transaction(async (tx) => {
      const taken = await cronTakeTick(tx, arbiter.schema, row.name, tick);
      if (!taken.taken) return null;
      const store = arbiter.store(row.queue).using(tx);
      if (row.overlap === 'skip' && taken.lastJobId !== null) {
        if (await cronJobAlive(tx, store.t.jobs, taken.lastJobId)) return { jobId: null, skipped: true };
      }
      // A payload set at runtime wins over the code's.
      const payload =
        code && !(row.overridden && row.payload !== null)
          ? typeof code.payload === 'function'
            ? (code.payload as (t: Date) => unknown)(tick)
            : (code.payload ?? {})
          : row.payload;
      const options = code?.enqueueOptions ?? {};
      const insert = toJobInsert(
        payload,
        { ...options, meta: { ...(options.meta ?? {}), cron: row.name, cronTick: tick.toISOString() } },
        arbiter.maxPayloadBytes,
        `cron ${row.name}`,
      );
      const jobId = (await store.insert(insert))?.row.id ?? null;
      await cronSetLastJob(tx, arbiter.schema, row.name, jobId);
      return { jobId, skipped: false };
    });
    if (result) this.events.emit('cron:fired', { name: row.name, queue: row.queue, tick, ...result });
  }
}

/**
 * Registers schedules from code (see cronUpsert for when an existing row is rewritten). A payload that
 * is a function is stored as NULL; a static one as JSON.
 */
export async function registerCodeSchedules(
  arbiter: StoreHost,
  schedules: readonly ResolvedCron[],
): Promise<void> {
  if (schedules.length === 0) return;
  const now = await dbNow(arbiter.db);
  for (const s of schedules) {
    const payload =
      typeof s.payload === 'function' ? null : encodePayload(s.payload ?? {}, arbiter.maxPayloadBytes);
    const def = {
      name: s.name,
      queue: s.queue,
      pattern: s.pattern,
      tz: s.tz,
      payload,
      overlap: s.overlap,
      missed: s.missed,
      catchUpMax: s.catchUpMax,
    };
    const fn = typeof s.payload === 'function' ? String(s.payload) : null;
    const codeHash = createHash('sha256')
      .update(JSON.stringify({ ...def, fn, enqueueOptions: s.enqueueOptions ?? null }))
      .digest('hex');
    await cronUpsert(arbiter.db, arbiter.schema, {
      ...def,
      codeHash,
      initialTick: cronPrevTick(s.pattern, s.tz, now) ?? new Date(0),
    });
  }
}
