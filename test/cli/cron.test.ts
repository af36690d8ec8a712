import { beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli } from './helpers.js';

const t = useTestDb();
const cli = (args: string[]) =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

beforeAll(async () => {
  await t.arbiter.createQueue('reports');
});

describe('arbiter cron', () => {
  it('adds, lists, changes, pauses, resumes and removes a schedule', async () => {
    const added = await cli([
      '--json',
      'cron',
      'add',
      'nightly',
      'reports',
      '0 3 * * *',
      '--tz',
      'Europe/Paris',
      '--payload',
      '{"kind":"nightly"}',
      '--missed',
      'catch-up',
      '--catch-up-max',
      '3',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(json(added)).toMatchObject({
      name: 'nightly',
      queue: 'reports',
      tz: 'Europe/Paris',
      payload: { kind: 'nightly' },
      missed: 'catch-up',
      catchUpMax: 3,
      source: 'runtime',
    });

    const listed = await cli(['cron', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /nightly\s+reports\s+0 3 \* \* \*\s+Europe\/Paris\s+active\s+runtime\s+catch-up:3/,
    );

    const set = await cli(['cron', 'set', 'nightly', '--pattern', '30 2 * * *', '--missed', 'skip']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('Changed schedule nightly.');
    expect(await t.arbiter.cron.get('nightly')).toMatchObject({ pattern: '30 2 * * *', missed: 'skip' });

    expect((await cli(['cron', 'pause', 'nightly'])).stdout).toContain(
      'Paused schedule nightly; next tick: -.',
    );
    expect((await t.arbiter.cron.get('nightly'))!.paused).toBe(true);
    expect((await cli(['cron', 'resume', 'nightly'])).stdout).toContain('Resumed schedule nightly');
    expect((await t.arbiter.cron.get('nightly'))!.paused).toBe(false);
    expect((await cli(['cron', 'remove', 'nightly'])).stdout).toContain('Removed schedule nightly.');
    expect(await t.arbiter.cron.list()).toEqual([]);
  });

  it('refuses bad input with a usage error, a missing schedule with not-found, and writes nothing', async () => {
    const bad = await cli(['cron', 'add', 'x', 'reports', 'not a cron']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('pattern');
    const policy = await cli(['cron', 'add', 'x', 'reports', '* * * * *', '--missed', 'sometimes']);
    expect(policy.code).toBe(2);
    const missing = await cli(['cron', 'pause', 'ghost']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('cron schedule "ghost" does not exist');
    expect((await cli(['cron', 'remove', 'ghost'])).code).toBe(3);
    expect((await cli(['cron', 'set', 'ghost'])).code).toBe(2);
    expect(await t.arbiter.cron.list()).toEqual([]);
  });
});
