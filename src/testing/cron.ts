import type { Arbiter } from '../client/arbiter.js';
import { cronNextTick } from '../core/cron.js';
import { checkOptions, validDate } from '../core/validate.js';
import { cronLastTicks, dbNow } from '../db/queries/cron.js';
import { CronScheduler, registerCodeSchedules } from '../worker/cron.js';
import { WorkerEventEmitter, type WorkerEvents } from '../worker/events.js';
import { resolveOptions, type CronSchedule } from '../worker/options.js';

export interface FireCronOptions {
  /** Fire what is due at this time. Default: each schedule's next tick (after the last one fired). */
  at?: Date;
}

export type CronFired = WorkerEvents['cron:fired'];

/**
 * Fires recurring jobs without waiting for their time: for each schedule, what a worker would enqueue if
 * the clock read `at` (default: the schedule's next tick), through the worker's own code: the tick is
 * taken in `_cron` (so it fires once), the overlap policy applies, the payload function gets the tick, and
 * the job carries `meta.cron` and `meta.cronTick`. Calling it again without `at` steps to the tick after.
 * Schedules are registered as a starting worker registers them. Returns one entry per tick fired
 * (`jobId` null when the overlap policy skipped it); run the jobs with `drain`.
 */
export async function fireCron(
  arbiter: Arbiter,
  schedules: readonly CronSchedule[],
  options: FireCronOptions = {},
): Promise<CronFired[]> {
  const o = checkOptions<FireCronOptions>(options, 'options', ['at']);
  const at = o.at === undefined ? undefined : validDate(o.at, 'options.at');
  if (schedules.length === 0) return [];
  // The worker's own validation of schedules (it needs a queue to serve; any name will do).
  const resolved = resolveOptions({
    arbiter,
    queues: { x: { handler: () => undefined } },
    cron: [...schedules],
    handleSignals: false,
  }).cron;
  await arbiter.checkSchema();
  await registerCodeSchedules(arbiter, resolved);
  const now = await dbNow(arbiter.db);
  const last = await cronLastTicks(
    arbiter.db,
    arbiter.schema,
    resolved.map((s) => s.name),
  );
  const fired: CronFired[] = [];
  for (const s of resolved) {
    let when = at;
    if (when === undefined) {
      const lastTick = last.get(s.name) ?? null;
      const from = lastTick && lastTick > now ? lastTick : now;
      const next = cronNextTick(s.pattern, s.tz, from);
      if (!next) continue; // a schedule with no tick left
      when = next;
    }
    const events = new WorkerEventEmitter();
    let failure: unknown;
    events.on('cron:fired', (e) => fired.push(e));
    events.on('error', (e) => (failure ??= e.error));
    await new CronScheduler(arbiter, [s], 60_000, events).check(when);
    if (failure !== undefined) throw failure;
  }
  return fired;
}
