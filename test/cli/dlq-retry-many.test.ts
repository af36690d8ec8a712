import { describe, expect, it } from 'vitest';
import { databaseUrl, useTestDb } from '../support/db.js';
import { json, runCli, type CliResult } from './helpers.js';

const t = useTestDb();
const cli = (...args: string[]): Promise<CliResult> =>
  runCli(args, { databaseUrl: databaseUrl(), schema: t.schema });

describe('arbiter dlq retry <ids...>', () => {
  it('retries every given id in one transaction, reports the missing ones, and refuses a bad id up front', async () => {
    const q = await t.arbiter.createQueue('cr');
    await q.enqueueMany([1, 2, 3].map((n) => ({ payload: { n } })));
    const jobs = await q.claim({ limit: 3 });
    await q.dlq.moveMany(jobs.map((job) => ({ job, error: 'boom' })));
    const ids = (await q.dlq.list()).items.map((d) => d.id);

    const bad = await cli('dlq', 'retry', 'cr', ids[0]!, 'x1');
    expect(bad.code).toBe(2);
    expect(await q.dlq.count()).toBe(3); // nothing retried: the bad id was refused before any write

    const res = await cli('--json', 'dlq', 'retry', 'cr', ids[0]!, ids[1]!, '987654');
    expect(res.code).toBe(3);
    const out = json<{ done: { id: string; jobId: string }[]; missing: string[] }>(res);
    expect(out.done.map((d) => d.id)).toEqual([ids[0], ids[1]]);
    expect(out.missing).toEqual(['987654']);
    for (const d of out.done) expect((await q.jobs.get(d.jobId))?.attempts).toBe(0);
    expect(await q.dlq.count()).toBe(1);
  });
});
