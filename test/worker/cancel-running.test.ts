import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killChildren, startChild } from '../support/child-process.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { waitFor } from './helpers.js';

// Cancelling a running job: the worker holding it (another process) aborts its handler with reason
// `cancelled` as soon as the cancel commits (a NOTIFY names the job), and writes nothing for it.
const t = useTestDb();

afterAll(killChildren);

beforeAll(async () => {
  await t.pool
    .query(`CREATE TABLE "${t.schema}".effects (queue text, job_id bigint, attempt int, pid int, phase text,
    at timestamptz NOT NULL DEFAULT clock_timestamp())`);
});

async function spawnWorker(queue: string, env: Record<string, string>) {
  const w = await startChild('cancel-worker-process', {
    DATABASE_URL: databaseUrl(),
    SCHEMA: t.schema,
    QUEUE: queue,
    ...env,
  });
  return {
    output: w.output,
    stop: async () => {
      w.child.kill('SIGTERM');
      return (await w.exited).code;
    },
  };
}

async function effects(queue: string, jobIds: readonly string[]): Promise<Map<string, string[]>> {
  const { rows } = await t.pool.query<{ job_id: string; attempt: number; phase: string }>(
    `SELECT job_id::text, attempt, phase FROM "${t.schema}".effects WHERE queue = $1 AND job_id = ANY($2::bigint[])
     ORDER BY at`,
    [queue, [...jobIds]],
  );
  const by = new Map<string, string[]>(jobIds.map((id) => [id, []]));
  for (const r of rows) by.get(r.job_id)!.push(`${r.phase}#${r.attempt}`);
  return by;
}

describe('cancelling a running job', () => {
  it('aborts the handler in another process with reason "cancelled"; nothing is written; the others run on', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('cancel_listen');
    const w = await spawnWorker('cancel_listen', { LEASE_MS: '60000', CONCURRENCY: '8' });
    const jobs = await q.enqueueMany(Array.from({ length: 6 }, (_, n) => ({ payload: { n } })));
    const ids = jobs.map((j) => j.id);
    await waitFor(
      async () => [...(await effects(q.name, ids)).values()].every((e) => e.includes('started#1')),
      'all six running',
    );
    // One by one, several at once, and with its (empty) subtree: all three paths tell the worker.
    expect(await q.jobs.cancel(ids[0]!)).toBe(1);
    expect(await q.jobs.cancelMany([ids[1]!, ids[2]!])).toBe(2);
    expect(await q.jobs.cancelCascade(ids[3]!)).toBe(1);
    const cancelled = ids.slice(0, 4);
    // The lease is 60 s: only the notice can have aborted them, and the reason says so.
    let byId = new Map<string, string[]>();
    await waitFor(async () => {
      byId = await effects(q.name, ids);
      return cancelled.every((id) => {
        const e = byId.get(id)!;
        return e.includes('aborted:cancelled#1') && e.includes('event:cancelled#1');
      });
    }, 'the four handlers see "cancelled" and the events are out');
    for (const id of cancelled) {
      expect(byId.get(id)!.sort()).toEqual(['aborted:cancelled#1', 'event:cancelled#1', 'started#1']);
    }
    // The two others were not touched.
    for (const id of ids.slice(4)) expect(byId.get(id)).toEqual(['started#1']);
    const stats = await q.jobs.stats();
    expect(stats.total).toBe(2);
    expect(stats.inFlight).toBe(2);
    expect(stats.dead).toBe(0);
    await q.jobs.cancelMany(ids.slice(4));
    await waitFor(async () => {
      byId = await effects(q.name, ids);
      return ids.slice(4).every((id) => byId.get(id)!.includes('aborted:cancelled#1'));
    }, 'the last two cancelled');
    expect(await w.stop()).toBe(0);
    // Nothing ran again, finished, or went to the dead letters; the queue is empty.
    byId = await effects(q.name, ids);
    for (const id of ids) expect(byId.get(id)!.filter((p) => p.startsWith('started'))).toEqual(['started#1']);
    for (const id of ids) expect(byId.get(id)!.some((p) => p.startsWith('finished'))).toBe(false);
    expect(await q.jobs.stats()).toMatchObject({ total: 0, dead: 0 });
  });

  it('races: cancels land before, during and after short handlers; every job has exactly one fate', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('cancel_race');
    const w = await spawnWorker('cancel_race', { LEASE_MS: '60000', CONCURRENCY: '8', HANDLER_MS: '15' });
    for (let round = 0; round < 3; round++) {
      const jobs = await q.enqueueMany(Array.from({ length: 120 }, (_, n) => ({ payload: { n } })));
      const ids = jobs.map((j) => j.id);
      const results = await Promise.all(
        ids.map(async (id, i) => {
          await new Promise((r) => setTimeout(r, (i * 7) % 400));
          return { id, deleted: await q.jobs.cancel(id) };
        }),
      );
      // Wait until the queue is empty (finished or cancelled) and every started handler has ended.
      await waitFor(async () => (await q.jobs.stats()).total === 0, 'queue empty', 30_000);
      let byId = new Map<string, string[]>();
      await waitFor(async () => {
        byId = await effects(q.name, ids);
        return [...byId.values()].every(
          (e) =>
            !e.includes('started#1') || e.some((p) => p.startsWith('finished') || p.startsWith('aborted')),
        );
      }, 'every started handler ended');
      let cancelledRunning = 0;
      for (const { id, deleted } of results) {
        const e = byId.get(id)!;
        const starts = e.filter((p) => p.startsWith('started'));
        expect(starts.length).toBeLessThanOrEqual(1);
        // An abort is only ever the cancellation (the lease is 60 s, nobody shuts down).
        for (const p of e.filter((x) => x.startsWith('aborted'))) expect(p).toBe('aborted:cancelled#1');
        if (deleted === 0) {
          // Not deleted by the cancel: it had run to the end and its ack committed first.
          expect(e).toContain('finished#1');
          expect(e).not.toContain('event:cancelled#1');
        } else if (e.includes('aborted:cancelled#1')) {
          cancelledRunning++;
        }
      }
      expect(await q.jobs.stats()).toMatchObject({ total: 0, dead: 0 });
      if (process.env.ARBITER_TEST_DEBUG)
        console.log(`round ${round}: ${cancelledRunning} aborted while running`);
    }
    expect(await w.stop()).toBe(0);
  });

  it('a poll-only worker (listen: false) notices at its next lease extension, as a lost lease', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('cancel_poll');
    // A 1.5 s lease: the heartbeat extends every 500 ms and finds the row gone.
    const w = await spawnWorker('cancel_poll', { LEASE_MS: '1500', LISTEN: 'false' });
    const job = (await q.enqueue({ n: 1 }))!;
    await waitFor(
      async () => (await effects(q.name, [job.id])).get(job.id)!.includes('started#1'),
      'running',
    );
    expect(await q.jobs.cancel(job.id)).toBe(1);
    let e: string[] = [];
    await waitFor(async () => {
      e = (await effects(q.name, [job.id])).get(job.id)!;
      return e.some((p) => p.startsWith('aborted'));
    }, 'aborted');
    expect(e).toEqual(['started#1', 'aborted:lease-lost#1']);
    expect(await w.stop()).toBe(0);
    expect(await q.jobs.stats()).toMatchObject({ total: 0, dead: 0 });
  });
});
