import { beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
type Item = { id: string; status: string; groupKey: string | null; payload: { n: number } };

/** Claims the given jobs and moves them to the dead-letter table. */
async function deadLetter(q: Queue, count: number, error = 'boom'): Promise<void> {
  await q.enqueueMany(Array.from({ length: count }, (_, i) => ({ payload: { n: i } })));
  for (let left = count; left > 0;) {
    const jobs = await q.claim({ limit: Math.min(left, 1000) });
    await q.dlq.moveMany(jobs.map((job) => ({ job, error })));
    left -= jobs.length;
  }
}

describe('jobs', () => {
  let q: Queue;
  const ids: string[] = [];
  beforeAll(async () => {
    q = await t.arbiter.createQueue('jq');
    for (let n = 0; n < 7; n++) {
      const job = await q.enqueue(
        { n, kind: n % 2 === 0 ? 'even' : 'odd' },
        { groupKey: n < 3 ? 'alpha' : null, priority: n === 6 ? 5 : 0, delayMs: n === 5 ? 3600_000 : 0 },
      );
      ids.push(job!.id);
    }
  });

  it('lists with filters and walks pages with the printed cursor', async () => {
    const [all, page1, human, alpha, ungrouped, even, scheduled, pri] = await Promise.all([
      cli('--json', 'jobs', 'list', 'jq'),
      cli('jobs', 'list', 'jq', '--limit', '3', '--json'),
      cli('jobs', 'list', 'jq', '--limit', '3'),
      cli('jobs', 'list', 'jq', '--group', 'alpha', '--json'),
      cli('jobs', 'list', 'jq', '--no-group', '--json'),
      cli('jobs', 'list', 'jq', '--payload-contains', '{"kind":"even"}', '--json'),
      cli('jobs', 'list', 'jq', '--status', 'scheduled,retrying', '--json'),
      cli('jobs', 'list', 'jq', '--priority', '5', '--ids', `${ids[6]},${ids[0]}`, '--json'),
    ]);
    const idsOf = (r: CliResult) => json<Page<Item>>(r).items.map((i) => i.id);
    expect(idsOf(all)).toEqual([...ids].reverse());
    const p1 = json<Page<Item>>(page1);
    expect(p1.items.map((i) => i.id)).toEqual([ids[6], ids[5], ids[4]]);
    expect(p1.nextCursor).toEqual(expect.any(String));
    expect(human.stdout).toMatch(/^\s*ID\s+STATUS\s+GROUP/);
    expect(human.stdout).toContain(`next page: --cursor ${p1.nextCursor}`);
    expect(idsOf(alpha)).toEqual([ids[2], ids[1], ids[0]]);
    expect(idsOf(ungrouped)).toEqual([ids[6], ids[5], ids[4], ids[3]]);
    expect(idsOf(even)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
    expect(idsOf(scheduled)).toEqual([ids[5]]);
    expect(idsOf(pri)).toEqual([ids[6]]);

    const p2 = json<Page<Item>>(
      await cli('jobs', 'list', 'jq', '--limit', '3', '--cursor', p1.nextCursor!, '--json'),
    );
    const p3 = json<Page<Item>>(
      await cli('jobs', 'list', 'jq', '--limit', '3', '--cursor', p2.nextCursor!, '--json'),
    );
    expect([...p2.items, ...p3.items].map((i) => i.id)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
    expect(p3.nextCursor).toBeNull();
  });

  it("treats ' OR 1=1 -- in a filter as a literal value", async () => {
    await q.enqueue({ n: 99 }, { groupKey: "' OR 1=1 --" });
    const [inject, injectKey, badCursor, badStatus, badDate] = await Promise.all([
      cli('jobs', 'list', 'jq', '--group', "' OR 1=1 --", '--json'),
      cli('jobs', 'list', 'jq', '--dedup-key', "x' OR 1=1 --", '--json'),
      cli('jobs', 'list', 'jq', '--cursor', "' OR 1=1 --"),
      cli('jobs', 'list', 'jq', '--status', 'bogus'),
      cli('jobs', 'list', 'jq', '--created-after', 'yesterday'),
    ]);
    const items = json<Page<Item>>(inject).items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ groupKey: "' OR 1=1 --", payload: { n: 99 } });
    expect(json<Page<Item>>(injectKey).items).toEqual([]);
    expect(badCursor.code).toBe(2);
    expect(badCursor.stderr).toContain('is not a cursor returned by this listing');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain('must be one of ready');
    expect(badDate.code).toBe(2);
  });

  it('gets, cancels, promotes, suspends and resumes, with meaningful exit codes', async () => {
    const delayed = ids[5]!;
    const [got, gotJson, missing, unknownQueue, badId] = await Promise.all([
      cli('jobs', 'get', 'jq', ids[0]!),
      cli('jobs', 'get', 'jq', ids[0]!, '--json'),
      cli('jobs', 'get', 'jq', '999999'),
      cli('jobs', 'get', 'nosuch', '1'),
      cli('jobs', 'get', 'jq', 'abc'),
    ]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(new RegExp(`id:\\s+${ids[0]}`));
    expect(got.stdout).toContain('"kind": "even"');
    expect(json(gotJson)).toMatchObject({ id: ids[0], groupKey: 'alpha', payload: { n: 0 } });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`job 999999 not found in queue "jq"`);
    expect(unknownQueue.code).toBe(3);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain('must be a positive 64-bit integer id');

    const promoted = await cli('jobs', 'promote', 'jq', delayed, '--json');
    expect(json(promoted)).toMatchObject({ id: delayed, action: 'promote', changed: 1 });
    expect((await q.jobs.get(delayed))?.status).toBe('ready');
    const notApplicable = await cli('jobs', 'promote', 'jq', delayed);
    expect(notApplicable.code).toBe(1);
    expect(notApplicable.stderr).toContain('is ready: nothing changed');

    expect((await cli('jobs', 'suspend', 'jq', ids[3]!)).code).toBe(0);
    expect((await q.jobs.get(ids[3]!))?.status).toBe('suspended');
    const resumed = await cli('jobs', 'resume', 'jq', ids[3]!);
    expect(resumed.stdout).toContain(`Resumed job ${ids[3]}`);
    expect((await q.jobs.get(ids[3]!))?.status).toBe('ready');

    const parent = await q.enqueue({ n: 100 });
    await q.enqueue({ n: 101 }, { parentId: parent!.id });
    const [refused, cancelled, gone] = await Promise.all([
      cli('jobs', 'cancel', 'jq', parent!.id),
      cli('jobs', 'cancel', 'jq', ids[4]!),
      cli('jobs', 'cancel', 'jq', '999999'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--cascade');
    expect(cancelled.code).toBe(0);
    expect(await q.jobs.get(ids[4]!)).toBeNull();
    expect(gone.code).toBe(3);
    const cascade = await cli('jobs', 'cancel', 'jq', parent!.id, '--cascade', '--json');
    expect(json(cascade)).toMatchObject({ action: 'cancel', changed: 2 });
    expect(await q.jobs.count({ parentId: parent!.id })).toBe(0);
  });
});

describe('dlq', () => {
  it('lists, gets, retries and deletes single dead letters', async () => {
    const q = await t.arbiter.createQueue('dq');
    await deadLetter(q, 3, 'kaput');
    const listed = json<Page<{ id: string; jobId: string; lastError: string }>>(
      await cli('dlq', 'list', 'dq', '--json'),
    );
    expect(listed.items).toHaveLength(3);
    expect(listed.items.every((d) => d.lastError === 'kaput')).toBe(true);
    const [a, b, c] = listed.items.map((d) => d.id) as [string, string, string];
    const [human, got, missing, filtered] = await Promise.all([
      cli('dlq', 'list', 'dq'),
      cli('dlq', 'get', 'dq', a, '--json'),
      cli('dlq', 'get', 'dq', '999999'),
      cli('dlq', 'list', 'dq', '--failed-after', '2000-01-01', '--limit', '1', '--json'),
    ]);
    expect(human.stdout).toMatch(/ID\s+JOB ID/);
    expect(human.stdout).toContain('kaput');
    // Attempts made, not "1/25" beside an error that may say the attempts ran out.
    expect(human.stdout).not.toMatch(/\d+\/\d+/);
    expect((await cli('dlq', 'get', 'dq', a)).stdout).toMatch(/attempts made:\s+1\n/);
    expect(json(got)).toMatchObject({ id: a, status: 'dead', lastError: 'kaput' });
    expect(missing.code).toBe(3);
    expect(json<Page<unknown>>(filtered).nextCursor).toEqual(expect.any(String));

    const retried = await cli('dlq', 'retry', 'dq', a, '--json');
    const out = json<{ done: { id: string; jobId: string }[]; missing: string[] }>(retried);
    expect(out.missing).toEqual([]);
    expect((await q.jobs.get(out.done[0]!.jobId))?.attempts).toBe(0);
    const partly = await cli('dlq', 'delete', 'dq', b, '999999');
    expect(partly.code).toBe(3);
    expect(partly.stdout).toContain(`Deleted dead letter ${b}`);
    expect(partly.stdout).toContain('Dead letter 999999 not found');
    expect(await q.dlq.count()).toBe(1);
    expect(await q.dlq.exists(c)).toBe(true);
    const usage = await Promise.all([
      cli('dlq', 'retry', 'dq'),
      cli('dlq', 'retry', 'dq', c, '--all', '--yes'),
    ]);
    expect(usage.map((r) => r.code)).toEqual([2, 2]);
  });

  it('retries and deletes in bulk with --all, paginating, behind a --yes guard', async () => {
    const q = await t.arbiter.createQueue('bulkdlq');
    await deadLetter(q, 1200);
    await q.enqueue({ n: -1 }, { groupKey: 'keep' });
    const [keep] = await q.claim();
    await q.dlq.move(keep!, 'other');

    const refused = await cli('dlq', 'retry', 'bulkdlq', '--all');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to retry 1201 dead letters');
    expect(await q.dlq.count()).toBe(1201);

    const retried = await cli('--json', 'dlq', 'retry', 'bulkdlq', '--all', '--no-group', '--yes');
    expect(retried.code).toBe(0);
    expect(json(retried)).toEqual({
      queue: 'bulkdlq',
      action: 'retry',
      matched: 1200,
      done: 1200,
      skipped: 0,
    });
    expect(await q.dlq.count()).toBe(1);
    expect(await q.jobs.count()).toBe(1200);
    expect(await q.jobs.count({ minAttempts: 1 })).toBe(0);

    const deleted = await cli('dlq', 'delete', 'bulkdlq', '--all', '--yes');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('Deleted 1 dead letter of "bulkdlq"');
    expect(await q.dlq.count()).toBe(0);
  });
});
