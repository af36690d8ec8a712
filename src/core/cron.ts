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
    throw new ValidationError(`${field}.pattern`, pattern, `is not a valid cron expression (${(err as Error).message})`);
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
 * The latest tick of `pattern` at or before `now` (null when there is none). DST follows cron-parser:
 * a local time skipped by spring-forward does not fire that day; a repeated hour at fall-back fires once,
 * because ticks are compared as instants and each schedule remembers the last instant it fired.
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
