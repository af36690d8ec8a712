import pg from 'pg';

const TIMESTAMPTZ = 1184;
const fallback = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (value: string) => Date | number;

/** The last few values parsed (text and epoch ms), replaced round-robin. */
const CACHE = 4;
const cachedText: string[] = new Array<string>(CACHE).fill('');
const cachedMs: number[] = new Array<number>(CACHE).fill(0);
let nextSlot = 0;

/**
 * Parses PostgreSQL's ISO output of a timestamptz (`2026-11-23 13:47:11.123456+00`, offsets `+05:30`)
 * through the engine's own ISO parser, and remembers the last few values: the rows of one claim or insert
 * carry the same `now()` in several columns, so most calls are a string comparison. Anything else (other
 * DateStyles, BC dates, infinity, second-precision offsets) goes to pg's own parser.
 */
export function parseTimestamptz(text: string): Date | number {
  for (let i = 0; i < CACHE; i++) if (cachedText[i] === text) return new Date(cachedMs[i]!);
  const ms = parseIso(text);
  if (Number.isNaN(ms)) return fallback(text);
  cachedText[nextSlot] = text;
  cachedMs[nextSlot] = ms;
  nextSlot = (nextSlot + 1) % CACHE;
  return new Date(ms);
}

function parseIso(s: string): number {
  const n = s.length;
  if (n < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32)
    return Number.NaN;
  const sign3 = s.charCodeAt(n - 3);
  // "+hh": complete the offset to "+hh:00".
  if (sign3 === 43 || sign3 === 45) return Date.parse(`${s.slice(0, 10)}T${s.slice(11)}:00`);
  const sign6 = s.charCodeAt(n - 6);
  if (s.charCodeAt(n - 3) === 58 && (sign6 === 43 || sign6 === 45))
    return Date.parse(`${s.slice(0, 10)}T${s.slice(11)}`);
  return Number.NaN;
}

/** Per-query type parsers for Arbiter's own queries (a user's global pg type settings stay untouched). */
export const queryTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    if (oid === TIMESTAMPTZ && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};
