import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb({ poolSize: 4 });
const cli = (args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

interface Reply {
  job: { id: string; enqueueOutcome: string; debounced?: unknown } | null;
  skipped: boolean;
  outcome?: string;
  reason?: string;
}

describe('arbiter enqueue: controls', () => {
  it('debounce, unique, throttle and max-queued from the command line', async () => {
    await t.arbiter.createQueue('ctl');
    const deb = ['enqueue', 'ctl', '{"n":1}', '--debounce-key', 'd', '--debounce-window', '1m', '--json'];
    const [a, b] = [json<Reply>(await cli(deb)), json<Reply>(await cli(deb))];
    expect(a.outcome).toBe('created');
    expect(b.outcome).toBe('replaced');
    expect(b.job?.id).toBe(a.job?.id);

    const uni = ['enqueue', 'ctl', '{}', '--unique-key', 'u', '--unique-for', '1h', '--json'];
    expect(json<Reply>(await cli(uni)).outcome).toBe('created');
    expect(json<Reply>(await cli(uni)).outcome).toBe('duplicate');

    const thr = ['enqueue', 'ctl', '{}', '--throttle-key', 't', '--throttle-window', '1h', '--json'];
    expect(json<Reply>(await cli(thr)).outcome).toBe('created');
    expect(json<Reply>(await cli(thr)).outcome).toBe('throttled');

    const full = await cli(['enqueue', 'ctl', '{}', '--max-queued', '3', '--json']);
    expect(full.code).not.toBe(0);
    expect(full.stderr + full.stdout).toMatch(/QUEUE_FULL|maxQueued/);
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".ctl`);
    expect(rows[0].n).toBe(3);
  });

  it('bad input: a clear error, nothing written', async () => {
    await t.arbiter.createQueue('ctl_bad');
    const results = await Promise.all([
      cli(['enqueue', 'ctl_bad', '{}', '--debounce-key', 'd']),
      cli([
        'enqueue',
        'ctl_bad',
        '{}',
        '--debounce-key',
        'd',
        '--debounce-window',
        '1m',
        '--idempotency-key',
        'i',
      ]),
      cli(['enqueue', 'ctl_bad', '{}', '--max-queued', '0']),
      cli(['enqueue', 'ctl_bad', '--file', '-', '--throttle-key', 't', '--throttle-window', '1s']),
    ]);
    for (const r of results) {
      expect(r.code, r.stdout + r.stderr).not.toBe(0);
      expect(r.stderr).not.toBe('');
    }
    const { rows } = await t.pool.query(`SELECT count(*)::int AS n FROM "${t.schema}".ctl_bad`);
    expect(rows[0].n).toBe(0);
  });
});
