import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('arbiter jobs show / jobs logs', () => {
  it("show a job's progress, reported meta and last log lines, also after it finished", async () => {
    const q = await t.arbiter.createQueue('cr');
    const job = (await q.enqueue({ n: 1 }))!;
    const [claimed] = await q.claim({ leaseMs: 60_000 });
    const logs = Array.from({ length: 12 }, (_, i) => ({
      at: Date.now() + i,
      attempt: 1,
      message: `line ${i}`,
    }));
    await t.arbiter.store('cr').writeProgress({
      id: claimed!.id,
      attempts: 1,
      progress: '42',
      meta: '{"file":"a.csv"}',
      logs: JSON.stringify(logs),
    });
    const [human, machine, all] = await Promise.all([
      cli('jobs', 'show', 'cr', job.id),
      cli('--json', 'jobs', 'show', 'cr', job.id),
      cli('jobs', 'logs', 'cr', job.id),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/status:\s+in-flight/);
    expect(human.stdout).toMatch(/progress: 42 \(attempt 1, /);
    expect(human.stdout).toContain('reported meta: {"file":"a.csv"}');
    expect(human.stdout).toContain('logs (last 10 of 12):');
    expect(human.stdout).not.toContain('line 1\n');
    expect(human.stdout).toContain('line 11');
    expect(json<{ job: { id: string }; report: { progress: number } }>(machine)).toMatchObject({
      job: { id: job.id },
      report: { progress: 42, meta: { file: 'a.csv' } },
    });
    expect(all.stdout.trim().split('\n')).toHaveLength(12);
    expect(all.stdout.trim().split('\n')[0]).toMatch(/#1 line 0$/);

    expect(await q.ack(claimed!)).toBe(1);
    const gone = await cli('jobs', 'show', 'cr', job.id);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain('has left the queue');
    expect(gone.stdout).toMatch(/progress: 42/);
    const followed = await cli('jobs', 'logs', '--follow', 'cr', job.id);
    expect(followed.stdout.trim().split('\n')).toHaveLength(12);
    expect((await cli('jobs', 'show', 'cr', '987654321')).code).toBe(3);
  });

  it('show every failed attempt, also on a dead letter', async () => {
    const q = await t.arbiter.createQueue('ca');
    const job = (await q.enqueue({}, { maxAttempts: 2 }))!;
    for (const n of [1, 2]) {
      const [c] = await q.claim({ leaseMs: 60_000, workerId: 'w-test' });
      await t.arbiter.store('ca').complete([
        {
          fence: { id: c!.id, attempts: c!.attempts },
          inTree: false,
          action:
            n === 1
              ? { type: 'retry', delayMs: 0, error: 'first failure' }
              : { type: 'dead', error: 'second failure' },
        },
      ]);
    }
    const dead = (await q.dlq.list()).items[0]!;
    const [shown, letter] = await Promise.all([
      cli('jobs', 'show', 'ca', job.id),
      cli('dlq', 'get', 'ca', dead.id),
    ]);
    for (const r of [shown, letter]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('failed attempts (2):');
      expect(r.stdout).toMatch(/#1 .* w-test first failure/);
      expect(r.stdout).toMatch(/#2 .* w-test second failure/);
    }
  });
});
