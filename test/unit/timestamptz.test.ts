import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/db/types.js';
import { databaseUrl } from '../support/db.js';

// Arbiter parses timestamptz with its own fast path; it must agree with pg's parser on every value the
// server can send, whatever the session's time zone.
const pgParse = pg.types.getTypeParser(1184, 'text') as (s: string) => Date | number;
const ms = (v: Date | number) => (v instanceof Date ? v.getTime() : v);

describe('parseTimestamptz', () => {
  it('agrees with pg on values sent by the server in several time zones, repeated (cache) or not', async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham', 'Europe/Amsterdam']) {
        await client.query(`SET TimeZone = '${zone}'`);
        const { rows } = await client.query<{ v: string }>(
          `SELECT v::text AS v FROM (VALUES (now()), (now() + interval '1 microsecond'),
             ('2026-03-29 01:59:59.999999+00'::timestamptz), ('1999-12-31 23:59:59+00'::timestamptz),
             ('0044-03-15 12:00:00+00'::timestamptz), ('1883-11-18 12:00:00+00'::timestamptz),
             ('4713-01-01 00:00:00+00 BC'::timestamptz), ('294276-12-31 23:59:59+00'::timestamptz),
             ('infinity'::timestamptz), ('-infinity'::timestamptz)) AS t(v)`,
        );
        for (const { v } of [...rows, ...rows])
          expect(ms(parseTimestamptz(v)), `${zone}: ${v}`).toBe(ms(pgParse(v)));
      }
    } finally {
      await client.end();
    }
  });

  it('returns a fresh Date each time, so a caller mutating one cannot corrupt the next', () => {
    const text = '2026-11-23 13:47:11.123456+00';
    const a = parseTimestamptz(text) as Date;
    a.setTime(0);
    expect((parseTimestamptz(text) as Date).getTime()).toBe(Date.UTC(2026, 10, 23, 13, 47, 11, 123));
  });
});
