import { afterEach, describe, expect, it } from 'vitest';
import {
  CronScheduleExistsError,
  CronScheduleNotFoundError,
  QueueNotFoundError,
  ValidationError,
} from '../../src/index.js';
import { CronScheduler, registerCodeSchedules } from '../../src/worker/cron.js';
import { WorkerEventEmitter, type WorkerEvents } from '../../src/worker/events.js';
import { resolveOptions, type CronSchedule } from '../../src/worker/options.js';
import { useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

const HOUR = 3_600_000;

/** The jobs a schedule enqueued into a queue nobody serves: tick and payload, oldest tick first. */
async function fired(
  queue: string,
  name: string,
): Promise<{ tick: string; payload: Record<string, unknown> }[]> {
  const { rows } = await t.pool.query<{ tick: string; payload: Record<string, unknown> }>(
    `SELECT meta->>'cronTick' AS tick, payload FROM "${t.schema}"."${queue}" WHERE meta->>'cron' = $1
     ORDER BY meta->>'cronTick'`,
    [name],
  );
  return rows;
}

function resolved(schedules: CronSchedule[]) {
  return resolveOptions({
    arbiter: t.arbiter,
    queues: { x: { handler: () => undefined } },
    cron: schedules,
    handleSignals: false,
  }).cron;
}

/** A scheduler of the stored schedules, checked by hand at a given time; its events collected. */
function scheduler(code: CronSchedule[] = []) {
  const events = new WorkerEventEmitter();
  const log = { fired: [] as WorkerEvents['cron:fired'][], missed: [] as WorkerEvents['cron:missed'][] };
  const errors: unknown[] = [];
  events.on('cron:fired', (e) => log.fired.push(e));
  events.on('cron:missed', (e) => log.missed.push(e));
  events.on('error', (e) => errors.push(e.error));
  const s = new CronScheduler(t.arbiter, resolved(code), 60_000, events, undefined, true);
  return {
    log,
    check: async (at: Date) => {
      await s.check(at);
      if (errors.length) throw errors[0];
    },
  };
}

async function dbNow(): Promise<Date> {
  const { rows } = await t.pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}

describe('cron schedules managed at runtime', () => {
  it('validates input and writes nothing on bad input', async () => {
    await t.arbiter.createQueue('rt_valid');
    const bad = [
      { name: '', queue: 'rt_valid', pattern: '* * * * *' },
      { name: 'a', queue: 'rt_valid', pattern: 'nope' },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', tz: 'Mars/Olympus' },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', missed: 'sometimes' },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', missed: 'catch-up', catchUpMax: 0 },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', overlap: 'maybe' },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', payload: { f: () => 1 } },
      { name: 'a', queue: 'Bad Queue', pattern: '* * * * *' },
      { name: 'a', queue: 'rt_valid', pattern: '* * * * *', extra: 1 },
    ];
    for (const input of bad) {
      await expect(t.arbiter.cron.add(input as never), JSON.stringify(input)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    await expect(
      t.arbiter.cron.add({ name: 'a', queue: 'rt_nope', pattern: '* * * * *' }),
    ).rejects.toBeInstanceOf(QueueNotFoundError);
    expect(await t.arbiter.cron.list()).toEqual([]);
    await t.arbiter.cron.add({ name: 'a', queue: 'rt_valid', pattern: '* * * * *' });
    await expect(
      t.arbiter.cron.add({ name: 'a', queue: 'rt_valid', pattern: '0 * * * *' }),
    ).rejects.toBeInstanceOf(CronScheduleExistsError);
    await expect(t.arbiter.cron.set('zz', { pattern: '0 * * * *' })).rejects.toBeInstanceOf(
      CronScheduleNotFoundError,
    );
    await expect(t.arbiter.cron.pause('zz')).rejects.toBeInstanceOf(CronScheduleNotFoundError);
    await expect(t.arbiter.cron.set('a', { pattern: 'nope' })).rejects.toBeInstanceOf(ValidationError);
    expect((await t.arbiter.cron.get('a'))!.pattern).toBe('* * * * *');
    expect(await t.arbiter.cron.remove('a')).toBe(true);
    expect(await t.arbiter.cron.remove('a')).toBe(false);
  });

  it('add, change, pause, resume and remove reach a running worker through the change notice', async () => {
    await t.arbiter.createQueue('rt_served');
    await t.arbiter.createQueue('rt_ticks');
    // A check interval far beyond the test: with no schedule stored yet, only the notice can wake it.
    await startWorker(t.arbiter, {
      cronCheckIntervalMs: 600_000,
      queues: { rt_served: { handler: async () => undefined } },
    });
    const every = { queue: 'rt_ticks', pattern: '* * * * * *', overlap: 'allow' as const };
    await t.arbiter.cron.add({ name: 'clock', ...every, payload: { clock: true } });
    await t.arbiter.cron.add({ name: 'subject', ...every, payload: { v: 1 } });
    await waitFor(async () => (await fired('rt_ticks', 'subject')).length >= 1, 'first fire');
    expect((await fired('rt_ticks', 'subject'))[0]!.payload).toEqual({ v: 1 });

    const changed = await t.arbiter.cron.set('subject', { payload: { v: 2 } });
    expect(changed).toMatchObject({ source: 'runtime', payload: { v: 2 }, paused: false });
    await waitFor(
      async () => (await fired('rt_ticks', 'subject')).some((j) => j.payload.v === 2),
      'a job with the new payload',
    );

    // Paused: while the clock schedule fires twice more, the subject fires nothing.
    const paused = await t.arbiter.cron.pause('subject');
    expect(paused.paused).toBe(true);
    expect(paused.nextTick).toBeNull();
    const before = (await fired('rt_ticks', 'subject')).length;
    const clockAt = (await fired('rt_ticks', 'clock')).length;
    await waitFor(async () => (await fired('rt_ticks', 'clock')).length >= clockAt + 2, 'two clock ticks');
    expect((await fired('rt_ticks', 'subject')).length).toBe(before);

    // Resumed: it fires again, from its next tick (none of the ticks of the pause).
    const resumedAt = await dbNow();
    await t.arbiter.cron.resume('subject');
    await waitFor(async () => (await fired('rt_ticks', 'subject')).length > before, 'fires after resume');
    const afterResume = (await fired('rt_ticks', 'subject')).slice(before);
    for (const j of afterResume) expect(Date.parse(j.tick)).toBeGreaterThan(resumedAt.getTime() - 1000);

    // Removed: nothing more while the clock fires twice.
    expect(await t.arbiter.cron.remove('subject')).toBe(true);
    const last = (await fired('rt_ticks', 'subject')).length;
    const clockNow = (await fired('rt_ticks', 'clock')).length;
    await waitFor(async () => (await fired('rt_ticks', 'clock')).length >= clockNow + 2, 'two clock ticks');
    expect((await fired('rt_ticks', 'subject')).length).toBe(last);
    // Every tick of each schedule fired once.
    for (const name of ['clock', 'subject']) {
      const ticks = (await fired('rt_ticks', name)).map((j) => j.tick);
      expect(new Set(ticks).size, name).toBe(ticks.length);
    }
  });

  it('a poll-only worker (listen: false) picks a new schedule up at its next check', async () => {
    await t.arbiter.createQueue('rt_poll');
    await t.arbiter.createQueue('rt_poll_ticks');
    await startWorker(t.arbiter, {
      listen: false,
      cronCheckIntervalMs: 200,
      queues: { rt_poll: { handler: async () => undefined } },
    });
    await t.arbiter.cron.add({ name: 'polled', queue: 'rt_poll_ticks', pattern: '* * * * * *' });
    await waitFor(async () => (await fired('rt_poll_ticks', 'polled')).length >= 1, 'fired');
  });

  it('two workers fire a runtime schedule once per tick', async () => {
    await t.arbiter.createQueue('rt_two');
    await t.arbiter.createQueue('rt_two_ticks');
    for (let i = 0; i < 2; i++) {
      await startWorker(t.arbiter, {
        cronCheckIntervalMs: 20,
        queues: { rt_two: { handler: async () => undefined } },
      });
    }
    await t.arbiter.cron.add({
      name: 'both',
      queue: 'rt_two_ticks',
      pattern: '* * * * * *',
      overlap: 'allow',
    });
    await waitFor(async () => (await fired('rt_two_ticks', 'both')).length >= 4, 'four ticks', 15_000);
    await stopAll();
    const ticks = (await fired('rt_two_ticks', 'both')).map((j) => Date.parse(j.tick));
    expect(new Set(ticks).size).toBe(ticks.length);
  });

  describe('missed ticks after downtime', () => {
    async function hourly(name: string, missed: 'skip' | 'once' | 'catch-up', catchUpMax?: number) {
      await t.arbiter.createQueue('rt_missed');
      // overlap 'allow': nobody runs the jobs, and 'skip' would fire nothing while the first is queued.
      const info = await t.arbiter.cron.add({
        name,
        queue: 'rt_missed',
        pattern: '0 * * * *',
        missed,
        catchUpMax,
        overlap: 'allow',
      });
      return info.lastTick!;
    }

    it("'once' fires the latest missed tick; 'skip' none; 'catch-up' the latest N, oldest first", async () => {
      const start = {
        once: await hourly('once', 'once'),
        skip: await hourly('skip', 'skip'),
        three: await hourly('three', 'catch-up', 3),
        ten: await hourly('ten', 'catch-up', 10),
      };
      // Five hourly ticks were missed: the check comes 5.5 hours after the last tick fired.
      const s = scheduler();
      const at = new Date(start.once.getTime() + 5 * HOUR + HOUR / 2);
      await s.check(at);
      const hours = (name: string) =>
        fired('rt_missed', name).then((r) =>
          r.map((j) => (Date.parse(j.tick) - start.once.getTime()) / HOUR),
        );
      expect(await hours('once')).toEqual([5]);
      expect(await hours('skip')).toEqual([]);
      expect(await hours('three')).toEqual([3, 4, 5]);
      expect(await hours('ten')).toEqual([1, 2, 3, 4, 5]);
      const missed = Object.fromEntries(
        s.log.missed.filter((m) => m.queue === 'rt_missed').map((m) => [m.name, m.missed]),
      );
      expect(missed).toEqual({ once: 4, skip: 5, three: 2 });
      // The same check again fires nothing: every tick is taken once.
      await s.check(at);
      expect((await fired('rt_missed', 'ten')).length).toBe(5);
      expect((await fired('rt_missed', 'three')).length).toBe(3);
      // On time again: 'skip' fires a tick seen within a minute of its time.
      await s.check(new Date(start.once.getTime() + 6 * HOUR + 1000));
      expect(await hours('skip')).toEqual([6]);
      expect(await hours('once')).toEqual([5, 6]);
    });

    it('two schedulers catching up at once fire each missed tick exactly once', async () => {
      const from = await hourly('race', 'catch-up', 50);
      const a = scheduler();
      const b = scheduler();
      for (let round = 1; round <= 5; round++) {
        const at = new Date(from.getTime() + round * 8 * HOUR + 60_000);
        await Promise.all([a.check(at), b.check(at), a.check(at), b.check(at)]);
      }
      const ticks = (await fired('rt_missed', 'race')).map(
        (j) => (Date.parse(j.tick) - from.getTime()) / HOUR,
      );
      expect(ticks).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const race = [...a.log.fired, ...b.log.fired].filter((e) => e.name === 'race');
      expect(race.length).toBe(40);
    });
  });

  describe('schedules from code and runtime changes', () => {
    const code = (pattern: string, payload: unknown = { from: 'code' }): CronSchedule => ({
      name: 'nightly',
      queue: 'rt_code',
      pattern,
      payload,
      overlap: 'allow',
    });

    it('a deploy rewrites a code schedule only when its code changed; a runtime pause or change wins', async () => {
      await t.arbiter.createQueue('rt_code');
      await registerCodeSchedules(t.arbiter, resolved([code('0 3 * * *')]));
      expect(await t.arbiter.cron.get('nightly')).toMatchObject({
        source: 'code',
        overridden: false,
        pattern: '0 3 * * *',
        payload: { from: 'code' },
      });
      // Paused at runtime: a deploy of the same code, or of changed code, keeps it paused.
      await t.arbiter.cron.pause('nightly');
      await registerCodeSchedules(t.arbiter, resolved([code('0 3 * * *')]));
      expect((await t.arbiter.cron.get('nightly'))!.paused).toBe(true);
      await registerCodeSchedules(t.arbiter, resolved([code('0 4 * * *')]));
      expect(await t.arbiter.cron.get('nightly')).toMatchObject({ paused: true, pattern: '0 4 * * *' });
      await t.arbiter.cron.resume('nightly');

      // Changed at runtime: overridden, and no deploy (same code or new) rewrites it.
      await t.arbiter.cron.set('nightly', { pattern: '30 2 * * *', payload: { from: 'runtime' } });
      for (const pattern of ['0 4 * * *', '0 5 * * *']) {
        await registerCodeSchedules(t.arbiter, resolved([code(pattern)]));
        expect(await t.arbiter.cron.get('nightly')).toMatchObject({
          source: 'code',
          overridden: true,
          pattern: '30 2 * * *',
          payload: { from: 'runtime' },
        });
      }
      // Removed: handed back to code at the next registration.
      await t.arbiter.cron.remove('nightly');
      await registerCodeSchedules(t.arbiter, resolved([code('0 5 * * *')]));
      expect(await t.arbiter.cron.get('nightly')).toMatchObject({ overridden: false, pattern: '0 5 * * *' });
    });

    it('a runtime payload wins over the code payload (even a function); other workers leave code schedules alone', async () => {
      await t.arbiter.createQueue('rt_code');
      const fn = code('0 * * * *', (tick: Date) => ({ fn: tick.toISOString() }));
      fn.name = 'hourly_fn';
      await registerCodeSchedules(t.arbiter, resolved([fn]));
      const from = (await t.arbiter.cron.get('hourly_fn'))!;
      expect(from.payload).toBeNull();
      const at = new Date(from.lastTick!.getTime() + HOUR + 1000);
      // A scheduler without the schedule in code does not fire it.
      const other = scheduler();
      await other.check(at);
      expect(other.log.fired).toEqual([]);
      const own = scheduler([fn]);
      await own.check(at);
      expect((await fired('rt_code', 'hourly_fn')).map((j) => j.payload)).toEqual([
        { fn: new Date(from.lastTick!.getTime() + HOUR).toISOString() },
      ]);
      await t.arbiter.cron.set('hourly_fn', { payload: { fixed: 1 } });
      await own.check(new Date(at.getTime() + HOUR));
      expect((await fired('rt_code', 'hourly_fn')).at(-1)!.payload).toEqual({ fixed: 1 });
    });
  });
});
