import type { StoreHost } from '../store/host.js';
import { cronDueTick, cronNextTick, cronPrevTick } from '../core/cron.js';
import {
  cronJobAlive,
  cronLastTicks,
  cronSetLastJob,
  cronTakeTick,
  cronUpsert,
  dbNow,
} from '../db/queries/cron.js';
import { toJobInsert } from '../store/enqueue-options.js';
import type { WorkerEventEmitter } from './events.js';
import type { ResolvedCron } from './options.js';

/**
 * Recurring jobs. Each schedule is a row in `_cron` holding the last tick fired. Every worker checks its
 * schedules against database time (the only clock) and tries to take the latest due tick with
 * `UPDATE … WHERE last_tick < tick` in the same transaction as the enqueue: exactly one worker wins each
 * tick, however many run, and a failed enqueue gives the tick back. The due tick is found by walking
 * forward from the last one fired (see cronDueTick for the DST policy). Ticks missed while no worker ran
 * are not replayed: only the latest due tick fires. Overlap `skip` enqueues nothing (but consumes the tick)
 * while the previous tick's job is still queued or running.
 */
export class CronScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly arbiter: StoreHost,
    private readonly schedules: readonly ResolvedCron[],
    private readonly intervalMs: number,
    private readonly events: WorkerEventEmitter,
    /** False for a queue that does not exist yet (waitForQueues): its schedules wait, ticks untaken. */
    private readonly queueReady: (queue: string) => boolean = () => true,
  ) {}

  async start(): Promise<void> {
    if (this.schedules.length === 0 || !this.stopped) return;
    this.stopped = false;
    const now = await dbNow(this.arbiter.db);
    for (const s of this.schedules) {
      await cronUpsert(this.arbiter.db, this.arbiter.schema, {
        name: s.name,
        queue: s.queue,
        pattern: s.pattern,
        tz: s.tz,
        initialTick: cronPrevTick(s.pattern, s.tz, now) ?? new Date(0),
      });
    }
    this.arm(now);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Next check: the poll interval, or the next tick if sooner (a few ms after it, in database time). */
  private arm(now: Date): void {
    if (this.stopped) return;
    let wait = this.intervalMs;
    for (const s of this.schedules) {
      const next = cronNextTick(s.pattern, s.tz, now);
      if (next) wait = Math.min(wait, Math.max(5, next.getTime() - now.getTime() + 5));
    }
    this.timer = setTimeout(() => {
      this.running = this.check().finally(() => (this.running = undefined));
    }, wait);
  }

  /** Fires what is due. `at` replaces database time (pg-arbiter/testing's fireCron). */
  async check(at?: Date): Promise<void> {
    let now = at ?? new Date();
    try {
      now = at ?? (await dbNow(this.arbiter.db));
      const last = await cronLastTicks(
        this.arbiter.db,
        this.arbiter.schema,
        this.schedules.map((s) => s.name),
      );
      for (const s of this.schedules) {
        const from = last.get(s.name) ?? null;
        const tick =
          from === null ? cronPrevTick(s.pattern, s.tz, now) : cronDueTick(s.pattern, s.tz, from, now);
        if (tick && this.queueReady(s.queue)) await this.fire(s, tick);
      }
    } catch (error) {
      this.events.emit('error', { error, context: 'cron' });
    } finally {
      this.arm(now);
    }
  }

  private async fire(s: ResolvedCron, tick: Date): Promise<void> {
    const { arbiter } = this;
    const result = await arbiter.db.transaction(async (tx) => {
      const taken = await cronTakeTick(tx, arbiter.schema, s.name, tick);
      if (!taken.taken) return null;
      const store = arbiter.store(s.queue).using(tx);
      if (s.overlap === 'skip' && taken.lastJobId !== null) {
        if (await cronJobAlive(tx, store.t.jobs, taken.lastJobId)) return { jobId: null, skipped: true };
      }
      const payload =
        typeof s.payload === 'function' ? (s.payload as (t: Date) => unknown)(tick) : (s.payload ?? {});
      const row = toJobInsert(
        payload,
        {
          ...(s.enqueueOptions ?? {}),
          meta: { ...(s.enqueueOptions?.meta ?? {}), cron: s.name, cronTick: tick.toISOString() },
        },
        arbiter.maxPayloadBytes,
        `cron ${s.name}`,
      );
      const jobId = (await store.insert(row))?.row.id ?? null;
      await cronSetLastJob(tx, arbiter.schema, s.name, jobId);
      return { jobId, skipped: false };
    });
    if (result) this.events.emit('cron:fired', { name: s.name, queue: s.queue, tick, ...result });
  }
}
