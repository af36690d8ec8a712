import { InvalidArgumentError } from 'commander';

// Option-argument parsers. They turn text into the types the library expects; the library then validates
// ranges and combinations and throws ValidationError (exit code 2) with the option's name.

export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be an integer');
  return Number(value);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds (`1500`) or a number with a unit (`500ms`, `10s`, `5m`, `2h`, `1d`). */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration such as 1500, 500ms, 10s, 5m, 2h or 1d');
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

/** An ISO-8601 date-time (`2030-01-01T00:00:00Z`) or a date (`2030-01-01`, UTC midnight). */
export function parseDate(value: string): Date {
  const d = new Date(value);
  if (value.trim() === '' || Number.isNaN(d.getTime())) {
    throw new InvalidArgumentError('must be an ISO-8601 date-time, e.g. 2030-01-01T12:00:00Z');
  }
  return d;
}

export function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`must be valid JSON (${(err as Error).message})`);
  }
}

/** Comma-separated values; the option may also be repeated. */
export function parseList(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...items];
}

export function choice(allowed: readonly string[]): (value: string) => string {
  return (value) => {
    if (!allowed.includes(value)) throw new InvalidArgumentError(`must be one of ${allowed.join(', ')}`);
    return value;
  };
}
