import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION } from '../../src/core/retention.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli } from './helpers.js';

const t = useTestDb();
const cli = (args: string[]) => runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

beforeAll(async () => {
  await t.arbiter.createQueue('mails');
});

describe('arbiter queue retention', () => {
  it('shows the retention, changes it with durations, none and default, and lists it', async () => {
    const shown = await cli(['queue', 'retention', 'mails']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('Retention of queue "mails":');
    expect(shown.stdout).toMatch(/history max age:\s+14d 0h/);
    expect(shown.stdout).toMatch(/dead letter max count:\s+no limit/);
    expect(shown.stdout).toMatch(/stats max age:\s+7d 0h/);

    const changed = await cli([
      '--json',
      'queue',
      'retention',
      'mails',
      '--history-max-age',
      '2d',
      '--history-max-count',
      'none',
      '--dead-letter-max-count',
      '5000',
      '--stats-max-age',
      'none',
    ]);
    expect(changed.code).toBe(0);
    const expected = {
      ...DEFAULT_RETENTION,
      historyMaxAgeMs: 2 * 86_400_000,
      historyMaxCount: null,
      deadLetterMaxCount: 5000,
      statsMaxAgeMs: null,
    };
    expect(json(changed)).toEqual({ queue: 'mails', retention: expected });
    expect((await t.arbiter.getQueue('mails'))!.retention).toEqual(expected);

    const back = await cli(['--json', 'queue', 'retention', 'mails', '--history-max-age', 'default']);
    expect(json<{ retention: { historyMaxAgeMs: number } }>(back).retention.historyMaxAgeMs).toBe(
      DEFAULT_RETENTION.historyMaxAgeMs,
    );
    const listed = json<{ name: string; retention: unknown }[]>(await cli(['--json', 'queue', 'list']));
    expect(listed.find((q) => q.name === 'mails')!.retention).toMatchObject({ deadLetterMaxCount: 5000 });
  });

  it('names the flag of a bad value (exit 2) and a missing queue (exit 3), writing nothing', async () => {
    const before = (await t.arbiter.getQueue('mails'))!.retention;
    const short = await cli(['queue', 'retention', 'mails', '--dead-letter-max-age', '10s']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--dead-letter-max-age');
    const stats = await cli(['queue', 'retention', 'mails', '--stats-max-age', '30s']);
    expect(stats.code).toBe(2);
    expect(stats.stderr).toContain('--stats-max-age');
    const word = await cli(['queue', 'retention', 'mails', '--history-max-count', 'lots']);
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('--history-max-count');
    expect((await t.arbiter.getQueue('mails'))!.retention).toEqual(before);
    const missing = await cli(['queue', 'retention', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('queue "nope" does not exist');
    const missingSet = await cli(['queue', 'retention', 'nope', '--history-max-count', '5']);
    expect(missingSet.code).toBe(3);
  });
});
