import { describe, expect, it } from 'vitest';
import { queueStatsAdd, WAIT_BOUNDS_MS } from '../../src/db/queries/queue-stats.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('arbiter stats --history', () => {
  it('prints one row per bucket from the rollup, as a table or JSON; bad flags are usage errors', async () => {
    await t.arbiter.createQueue('ch');
    await t.arbiter.createQueue('ch_none');
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const waitHist = WAIT_BOUNDS_MS.map(() => 0).concat(0);
    waitHist[3] = 12;
    await queueStatsAdd(t.arbiter.db, t.schema, [
      { queue: 'ch', minute, completed: 120, failed: 3, dead: 1, waitHist },
    ]);
    const [human, machine, empty, bad] = await Promise.all([
      cli('stats', 'ch', '--history', '--minutes', '5'),
      cli('--json', 'stats', '--history'),
      cli('stats', 'ch_none', '--history'),
      cli('stats', '--history', '--bucket', '0'),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/COMPLETED\s+FAILED\s+DEAD\s+COMPLETED\/S\s+WAIT P50\s+WAIT P95/);
    expect(human.stdout).toMatch(/120\s+3\s+1\s+2\.00\s+≤50ms\s+≤50ms/);
    const body = json<{ queue: null; buckets: { completed: number; waitP95Ms: number }[] }>(machine);
    expect(body.queue).toBe(null);
    expect(body.buckets).toEqual([expect.objectContaining({ completed: 120, waitP95Ms: 50 })]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('(no job finished in the last 60 min in ch_none)');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--bucket');
  });
});
