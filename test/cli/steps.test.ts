import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('arbiter emit / jobs show with steps', () => {
  it('shows the steps and the wait, and emit releases the job', async () => {
    const q = await t.arbiter.createQueue<{ id: string }>('cs_orders');
    const got: unknown[] = [];
    await startWorker(t.arbiter, {
      queues: {
        cs_orders: {
          handler: async (job: Job<{ id: string }>, ctx) => {
            await ctx.step('charge', () => ({ amount: 12 }));
            got.push(await ctx.waitFor(`paid:${job.payload.id}`));
          },
        },
      },
    });
    const job = (await q.enqueue({ id: 'a' }))!;
    await waitFor(() => q.jobs.waiting(job.id), 'the job waits');
    const shown = await cli('jobs', 'show', 'cs_orders', job.id);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/steps \(1\):\n {2}charge step \{"amount":12\} \d{4}-/);
    expect(shown.stdout).toContain('waits for event paid:a no timeout');
    const why = await cli('jobs', 'why', 'cs_orders', job.id);
    expect(why.stdout).toContain('Waiting for event "paid:a" with no timeout');
    const bad = await cli('emit', 'paid:a', '--payload', '{nope');
    expect(bad.code).not.toBe(0);
    const emitted = await cli('--json', 'emit', 'paid:a', '--payload', '{"ok":true}');
    expect(emitted.code, emitted.stderr).toBe(0);
    expect(json(emitted)).toEqual({ name: 'paid:a', released: 1 });
    await waitFor(() => got.length === 1, 'released');
    expect(got).toEqual([{ ok: true }]);
    const again = await cli('emit', 'paid:a');
    expect(again.stdout).toContain('released 0 waiting jobs');
  });
});
