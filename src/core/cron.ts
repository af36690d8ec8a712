import { CronExpressionParser } from 'cron-parser';
import { ValidationError } from '../errors.js';

/** Checks a cron expression (5 or 6 fields, seconds first when 6) and time zone; throws ValidationError. */
export function checkCron(pattern: unknown, tz: unknown, field: string): void {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new ValidationError(`${field}.pattern`, pattern, 'must be a cron expression');
  }
  if (typeof tz !== 'string' || !isTimeZone(tz)) {
    throw new ValidationError(`${field}.tz`, tz, 'must be an IANA time zone such as "UTC" or "Europe/Paris"');
  }
  try {
    CronExpressionParser.parse(pattern, { tz, strict: false });
  } catch (err) {
    throw new ValidationError(
      `${field}.pattern`,
      pattern,
      `is not a valid cron expression (${(err as Error).message})`,
    );
  }
}

/** Checks a missed-tick policy and its catch-up bound; throws ValidationError. */
export function checkMissedPolicy(
  missed: unknown,
  catchUpMax: unknown,
  field: string,
): { missed: CronMissedPolicy; catchUpMax: number } {
  const policy = missed ?? 'once';
  if (policy !== 'skip' && policy !== 'once' && policy !== 'catch-up') {
    throw new ValidationError(`${field}.missed`, missed, "must be 'skip', 'once' or 'catch-up'");
  }
  const max = catchUpMax ?? 10;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 1000) {
    throw new ValidationError(`${field}.catchUpMax`, catchUpMax, 'must be an integer from 1 to 1000');
  }
  return { missed: policy, catchUpMax: max };
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The latest tick of `pattern` at or before `now` (null when there is none). Used for a schedule's first
 * tick only; afterwards `cronDueTick` walks forward from the last tick fired, which is what keeps DST right.
 */
export function cronPrevTick(pattern: string, tz: string, now: Date): Date | null {
  // prev() is strictly before currentDate: start 1 ms after now so a tick exactly at now counts.
  const expr = CronExpressionParser.parse(pattern, { tz, currentDate: new Date(now.getTime() + 1) });
  try {
    return expr.prev().toDate();
  } catch {
    return null;
  }
}

/** The first tick strictly after `now`. */
export function cronNextTick(pattern: string, tz: string, now: Date): Date | null {
  const expr = CronExpressionParser.parse(pattern, { tz, currentDate: now });
  try {
    return expr.next().toDate();
  } catch {
    return null;
  }
}

const MAX_STEPS = 1_000;

/**
 * The tick to fire now for a schedule whose last fired tick is `lastTick`: the latest tick after it that
 * is due (<= now), or null when none is. Ticks are found by walking forward (cron-parser's next()), so
 * the DST policy is cron-parser's forward one: a local time skipped by spring-forward fires at the
 * shifted instant (02:30 becomes 03:30) and a local time repeated at fall-back fires once — every
 * schedule fires once per local day. Missed ticks are not replayed: only the latest due one is returned.
 */
export function cronDueTick(pattern: string, tz: string, lastTick: Date, now: Date): Date | null {
  const walk = (from: Date): { due: Date | null; done: boolean } => {
    const expr = CronExpressionParser.parse(pattern, { tz, currentDate: from });
    let due: Date | null = null;
    for (let i = 0; i < MAX_STEPS; i++) {
      let next: Date;
      try {
        next = expr.next().toDate();
      } catch {
        return { due, done: true };
      }
      if (next.getTime() > now.getTime()) return { due, done: true };
      due = next;
    }
    return { due, done: false };
  };
  const first = walk(lastTick);
  if (first.done) return first.due;
  // Far behind (a long outage): restart the walk just before the latest tick instead of replaying.
  const latest = cronPrevTick(pattern, tz, now);
  if (!latest) return first.due;
  const restart = walk(new Date(Math.max(lastTick.getTime(), latest.getTime() - 1)));
  return restart.due ?? first.due;
}

/** What to do with ticks missed while no worker ran (see cronTicksToFire). */
export type CronMissedPolicy = 'skip' | 'once' | 'catch-up';

/** A tick found later than this after its time counts as missed (the `skip` policy drops it). */
export const CRON_ON_TIME_MS = 60_000;

export interface CronTicks {
  /** Ticks to fire, oldest first (each one job). */
  fire: Date[];
  /** The latest due tick: taken (without a job) when `fire` is empty, so it is not looked at again. */
  latest: Date | null;
  /** Due ticks left unfired; null when more than a thousand were due (not counted). */
  missed: number | null;
}

/**
 * The due ticks of a schedule whose last fired tick is `lastTick`, and which of them to fire under the
 * missed-tick policy: `once` the latest; `skip` the latest only when it is on time (at most
 * CRON_ON_TIME_MS old), none after downtime; `catch-up` the latest `max`, oldest first. Ticks are found
 * by walking forward, as cronDueTick does (same DST policy).
 */
export function cronTicksToFire(
  pattern: string,
  tz: string,
  lastTick: Date,
  now: Date,
  policy: CronMissedPolicy,
  max: number,
): CronTicks {
  const keep = policy === 'catch-up' ? Math.max(1, max) : 1;
  let due: Date[] = [];
  let count = 0;
  let counted = true;
  const expr = CronExpressionParser.parse(pattern, { tz, currentDate: lastTick });
  for (;;) {
    let next: Date;
    try {
      next = expr.next().toDate();
    } catch {
      break;
    }
    if (next.getTime() > now.getTime()) break;
    count++;
    due.push(next);
    if (due.length > keep) due.shift();
    if (count >= MAX_STEPS) {
      // Far behind: the latest `keep` ticks, found walking back from now, then walking forward again.
      counted = false;
      due = latestTicks(pattern, tz, lastTick, now, keep);
      break;
    }
  }
  const latest = due.at(-1) ?? null;
  let fire = due;
  if (policy === 'skip' && latest && now.getTime() - latest.getTime() > CRON_ON_TIME_MS) fire = [];
  return { fire, latest, missed: counted ? count - fire.length : null };
}

function latestTicks(pattern: string, tz: string, lastTick: Date, now: Date, keep: number): Date[] {
  const back = CronExpressionParser.parse(pattern, { tz, currentDate: new Date(now.getTime() + 1) });
  let start = now;
  for (let i = 0; i < keep; i++) {
    try {
      const prev = back.prev().toDate();
      if (prev.getTime() <= lastTick.getTime()) break;
      start = prev;
    } catch {
      break;
    }
  }
  const out: Date[] = [];
  const fwd = CronExpressionParser.parse(pattern, { tz, currentDate: new Date(start.getTime() - 1) });
  for (let i = 0; i < keep + 2; i++) {
    let next: Date;
    try {
      next = fwd.next().toDate();
    } catch {
      break;
    }
    if (next.getTime() > now.getTime()) break;
    if (next.getTime() > lastTick.getTime()) out.push(next);
  }
  return out.slice(-keep);
}
