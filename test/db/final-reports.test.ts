import { describe, expect, it } from 'vitest';
import { finalReportsParam, MAX_SHARED_REPORT_CHARS } from '../../src/db/queries/job-final-reports.js';
import type { ProgressWrite } from '../../src/db/queries/job-progress.js';
import type { Job } from '../../src/index.js';
import { WorkerEventEmitter } from '../../src/worker/index.js';
import { RetentionPruner } from '../../src/worker/retention.js';
import { useTestDb } from '../support/db.js';

// The last report a plain ack carries goes in a row shared by the jobs of that ack statement
// (_job_final_reports); a read merges it over the job's own row (what it wrote while running).

const t = useTestDb();

const ack = { type: 'ack' as const, result: null };
const line = (attempt: number, message: string) => ({ at: 1, attempt, message });
const report = (job: Job, p: Partial<ProgressWrite> = {}): ProgressWrite => ({
  id: job.id,
  attempts: job.attempts,
  progress: null,
  meta: null,
  logs: null,
  ...p,
});

async function held(queue: string, n: number): Promise<Job[]> {
  const q = t.arbiter.queue(queue);
  await q.enqueueMany(Array.from({ length: n }, (_, i) => ({ payload: { i } })));
  const jobs = await q.claim({ limit: n, leaseMs: 60_000 });
  expect(jobs).toHaveLength(n);
  return jobs.sort((a, b) => Number(a.id) - Number(b.id));
}

const rows = async (table: string, queue: string) =>
  (
    await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${t.schema}"."${table}" WHERE queue = $1`,
      [queue],
    )
  ).rows[0]!.n;

describe("a job's last report, carried by its plain ack", () => {
  it('merges over what the job wrote while running, as an upsert of its row would', async () => {
    await t.arbiter.createQueue('merged');
    const q = t.arbiter.queue('merged');
    const store = t.arbiter.store('merged');
    const [a, b, c] = await held('merged', 3);
    // a and b wrote while running; c never did.
    expect(
      await store.writeProgressMany([
        report(a!, {
          progress: '10',
          meta: '{"stage":"download","n":1}',
          logs: JSON.stringify([line(1, 'x')]),
        }),
        report(b!, { progress: '{"done":1}', logs: JSON.stringify([line(1, 'y')]) }),
      ]),
    ).toEqual(new Set([a!.id, b!.id]));
    const done = await store.complete([
      // Progress and metadata move on, a line is added.
      {
        fence: a!,
        inTree: false,
        action: ack,
        report: report(a!, {
          progress: '100',
          meta: '{"stage":"done"}',
          logs: JSON.stringify([line(1, 'z')]),
        }),
      },
      // Only a line: the progress stays.
      { fence: b!, inTree: false, action: ack, report: report(b!, { logs: JSON.stringify([line(1, 'w')]) }) },
      { fence: c!, inTree: false, action: ack, report: report(c!, { meta: '{"k":true}' }) },
    ]);
    expect(done).toEqual([true, true, true]);
    expect(await rows('_job_final_reports', 'merged')).toBe(1);
    expect(await q.jobs.report(a!.id)).toMatchObject({
      attempt: 1,
      progress: 100,
      meta: { stage: 'done', n: 1 },
      logs: [{ message: 'x' }, { message: 'z' }],
    });
    expect(await q.jobs.report(b!.id)).toMatchObject({
      progress: { done: 1 },
      meta: null,
      logs: [{ message: 'y' }, { message: 'w' }],
    });
    expect(await q.jobs.report(c!.id)).toMatchObject({
      attempt: 1,
      progress: null,
      meta: { k: true },
      logs: [],
    });
    const r = (await q.jobs.report(a!.id))!;
    expect(r.updatedAt).toBeInstanceOf(Date);
    expect(r.logs[0]!.at).toBeInstanceOf(Date);
  });

  it('a later attempt starts without the progress of an earlier one, and keeps its lines', async () => {
    const q = await t.arbiter.createQueue('again');
    const store = t.arbiter.store('again');
    const job = (await q.enqueue({}))!;
    const [first] = await q.claim({ leaseMs: 60_000 });
    expect(
      await store.writeProgress(report(first!, { progress: '5', logs: JSON.stringify([line(1, 'a')]) })),
    ).toBe(true);
    expect(await q.retry(first!, { delayMs: 0 })).toBe(1);
    const [second] = await q.claim({ leaseMs: 60_000 });
    expect(second!.attempts).toBe(2);
    const done = await store.complete([
      {
        fence: second!,
        inTree: false,
        action: ack,
        report: report(second!, { logs: JSON.stringify([line(2, 'b')]) }),
      },
    ]);
    expect(done).toEqual([true]);
    const r = (await q.jobs.report(job.id))!;
    expect(r).toMatchObject({ attempt: 2, progress: null });
    expect(r.logs.map((l) => `${l.attempt}:${l.message}`)).toEqual(['1:a', '2:b']);
  });

  it('writes only the entries of the jobs the statement deleted; a large report gets a row of its own', async () => {
    await t.arbiter.createQueue('mixed');
    const q = t.arbiter.queue('mixed');
    const store = t.arbiter.store('mixed');
    const jobs = await held('mixed', 40);
    const big = JSON.stringify({ blob: 'x'.repeat(MAX_SHARED_REPORT_CHARS) });
    const done = await store.complete(
      jobs.map((j, i) => ({
        // Every fourth is a stale attempt: neither its ack nor its report is written.
        fence: { id: j.id, attempts: i % 4 === 0 ? 9 : j.attempts },
        inTree: false,
        action: ack,
        report: report(j, {
          attempts: i % 4 === 0 ? 9 : j.attempts,
          progress: String(i),
          meta: i === 5 ? big : null,
        }),
      })),
    );
    expect(done).toEqual(jobs.map((_, i) => i % 4 !== 0));
    for (const [i, j] of jobs.entries()) {
      const r = await q.jobs.report(j.id);
      if (i % 4 === 0) expect(r).toBe(null);
      else expect({ i, progress: r?.progress }).toEqual({ i, progress: i });
    }
    expect((await q.jobs.report(jobs[5]!.id))!.meta).toEqual(JSON.parse(big));
    expect(await rows('_job_progress', 'mixed')).toBe(1); // the large one
  });

  it('shares rows per run of 256 ids, several when they grow large, and finds every entry', async () => {
    await t.arbiter.createQueue('wide');
    const q = t.arbiter.queue('wide');
    const store = t.arbiter.store('wide');
    const jobs = await held('wide', 300);
    const meta = JSON.stringify({ note: 'é'.repeat(1000) });
    const done = await store.complete(
      jobs.map((j, i) => ({
        fence: j,
        inTree: false,
        action: ack,
        report: report(j, { progress: String(i), meta }),
      })),
    );
    expect(done.every(Boolean)).toBe(true);
    // 300 ids span two runs; 1 KB entries close a row at 64 KB: more than two rows, far fewer than 300.
    const n = await rows('_job_final_reports', 'wide');
    expect(n).toBeGreaterThan(2);
    expect(n).toBeLessThan(20);
    for (const [i, j] of jobs.entries()) {
      const r = await q.jobs.report(j.id);
      expect({ i, progress: r?.progress, meta: r?.meta }).toEqual({ i, progress: i, meta: JSON.parse(meta) });
    }
    // The param is valid JSON, ids above 2^53 included.
    const huge = finalReportsParam([
      { id: '9007199254740993', attempts: 1, progress: '1', meta: null, logs: null },
    ]);
    expect(JSON.parse(huge)).toEqual([[35184372088832, { '9007199254740993': { a: 1, p: 1 } }]]);
  });

  it('are pruned with the job reports, and go with a dropped queue', async () => {
    await t.arbiter.createQueue('gone');
    const store = t.arbiter.store('gone');
    const jobs = await held('gone', 4);
    await store.complete(
      jobs.map((j) => ({ fence: j, inTree: false, action: ack, report: report(j, { progress: '1' }) })),
    );
    expect(await rows('_job_final_reports', 'gone')).toBe(1);
    await t.arbiter.setQueueRetention('gone', { historyMaxAgeMs: 3_600_000, deadLetterMaxAgeMs: 3_600_000 });
    const pruner = new RetentionPruner({ arbiter: t.arbiter, events: new WorkerEventEmitter() });
    expect((await pruner.round()).filter((r) => r.queue === 'gone')).toEqual([]);
    await t.pool.query(
      `UPDATE "${t.schema}"._job_final_reports SET written_at = now() - interval '2 hours' WHERE queue = 'gone'`,
    );
    expect((await pruner.round()).filter((r) => r.queue === 'gone')).toEqual([
      { queue: 'gone', table: 'reports', reason: 'age', count: 1 },
    ]);
    expect(await t.arbiter.queue('gone').jobs.report(jobs[0]!.id)).toBe(null);

    // A queue dropped and created again starts its ids over: it must not find the old jobs' reports.
    await t.arbiter.createQueue('again_gone');
    const [old] = await held('again_gone', 1);
    await t.arbiter
      .store('again_gone')
      .complete([{ fence: old!, inTree: false, action: ack, report: report(old!, { progress: '7' }) }]);
    expect((await t.arbiter.queue('again_gone').jobs.report(old!.id))!.progress).toBe(7);
    expect(await t.arbiter.dropQueue('again_gone')).toBe(true);
    expect(await rows('_job_final_reports', 'again_gone')).toBe(0);
    await t.arbiter.createQueue('again_gone');
    const fresh = (await t.arbiter.queue('again_gone').enqueue({}))!;
    expect(fresh.id).toBe(old!.id);
    expect(await t.arbiter.queue('again_gone').jobs.report(fresh.id)).toBe(null);
  });
});
