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
