import { beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli } from './helpers.js';

const t = useTestDb();
const cli = (args: string[]) => runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

beforeAll(async () => {
  await t.arbiter.createQueue('calls');
});

describe('arbiter queue limits', () => {
  it('shows, sets and removes limits', async () => {
    const shown = await cli(['queue', 'limits', 'calls']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('Limits of queue "calls":');
    expect(shown.stdout).toMatch(/max in flight:\s+no limit/);
    const set = await cli(['--json', 'queue', 'limits', 'calls', '--max-in-flight', '50', '--rate', '500']);
    expect(set.code).toBe(0);
    expect(json(set)).toEqual({
      queue: 'calls',
      limits: { maxInFlight: 50, rate: { perSecond: 500, burst: 500, cost: 1 } },
    });
    const burst = await cli(['--json', 'queue', 'limits', 'calls', '--burst', '1000']);
    expect(json<{ limits: unknown }>(burst).limits).toEqual({
      maxInFlight: 50,
      rate: { perSecond: 500, burst: 1000, cost: 1 },
    });
    await cli(['queue', 'limits', 'calls', '--max-in-flight', 'none']);
    expect(await t.arbiter.getQueueLimits('calls')).toEqual({
      maxInFlight: null,
      rate: { perSecond: 500, burst: 1000, cost: 1 },
    });
  });

  it('names the flag of a bad value (exit 2) and a missing queue (exit 3), writing nothing', async () => {
    const before = await t.arbiter.getQueueLimits('calls');
    const zero = await cli(['queue', 'limits', 'calls', '--max-in-flight', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--max-in-flight');
    const neg = await cli(['queue', 'limits', 'calls', '--rate', '-1']);
    expect(neg.code).toBe(2);
    expect(neg.stderr).toContain('--rate');
    expect(await t.arbiter.getQueueLimits('calls')).toEqual(before);
    expect((await cli(['queue', 'limits', 'nope', '--max-in-flight', '3'])).code).toBe(3);
  });
});
