import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema, env: { NO_COLOR: '1' } });

interface GroupItem {
  groupKey: string;
  jobCount: number;
  state: string;
  blocked: boolean;
  reason: string;
  blocker: { id: string; status: string } | null;
}

describe('arbiter groups list', () => {
  it('lists groups with their state as a table and as JSON, walking pages with the printed cursor', async () => {
    const q = await t.arbiter.createQueue('cg');
    const [held] = await q.enqueueMany([1, 2].map((n) => ({ payload: { n }, groupKey: 'busy' })));
    await q.enqueueMany(['free-1', 'free-2'].map((groupKey) => ({ payload: 0, groupKey })));
    // A long lease: under load the CLI calls below can outlast the default 30 s.
    const [claimed] = await q.claim({ workerId: 'cli-w', leaseMs: 10 * 60_000 });
    expect(claimed!.id).toBe(held!.id);

    const human = await cli('groups', 'list', 'cg');
    expect(human.code).toBe(0);
    const busyLine = human.stdout.split('\n').find((l) => l.startsWith('busy'))!;
    expect(busyLine).toMatch(/\b2\b.*in-flight/);
    expect(busyLine).toContain(`job ${held!.id} is in flight on cli-w`);
    expect(human.stdout).toMatch(/free-1\s+1\s+ready/);
    expect(human.stdout).toContain('(last page)');

    const first = await cli('--json', 'groups', 'list', 'cg', '--limit', '2');
    expect(first.code).toBe(0);
    const p1 = json<{ items: GroupItem[]; nextCursor: string | null }>(first);
    expect(p1.items.map((g) => g.groupKey)).toEqual(['busy', 'free-1']);
    expect(p1.items[0]).toMatchObject({
      state: 'in-flight',
      blocked: true,
      blocker: { id: held!.id, status: 'in-flight' },
    });
    expect(p1.nextCursor).not.toBeNull();
    const second = json<{ items: GroupItem[]; nextCursor: string | null }>(
      await cli('--json', 'groups', 'list', 'cg', '--limit', '2', '--cursor', p1.nextCursor!),
    );
    expect(second.items.map((g) => g.groupKey)).toEqual(['free-2']);
    expect(second.nextCursor).toBeNull();
  });

  it('exits 3 for an unknown queue and 2 for a bad limit', async () => {
    expect((await cli('groups', 'list', 'no_such_queue')).code).toBe(3);
    expect((await cli('groups', 'list', 'cg', '--limit', '0')).code).toBe(2);
  });
});
