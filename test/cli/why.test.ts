import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

describe('arbiter jobs why', () => {
  it('prints every reason in order, as text and as JSON; exit 3 for an unknown job', async () => {
    const q = await t.arbiter.createQueue('cw');
    const [head, behind] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'acct-1' })));
    const [human, machine, missing] = await Promise.all([
      cli('jobs', 'why', 'cw', behind!.id),
      cli('--json', 'jobs', 'why', 'cw', behind!.id),
      cli('jobs', 'why', 'cw', '987654321'),
    ]);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toBe(`job ${behind!.id} (ready) in queue "cw": not running, because`);
    expect(lines[1]).toMatch(
      new RegExp(`^  behind-head\\s+Behind job ${head!.id}, the next of group "acct-1"`),
    );
    expect(lines[2]).toMatch(/^ {2}no-worker\s+No live worker serves queue "cw"/);
    const answer = json<{ reasons: { code: string; jobId?: string }[]; ok: boolean }>(machine);
    expect(answer.ok).toBe(false);
    expect(answer.reasons).toEqual([
      expect.objectContaining({ code: 'behind-head', jobId: head!.id }),
      expect.objectContaining({ code: 'no-worker' }),
    ]);
    expect(missing.code).toBe(3);
  });
});
