import { afterEach, describe, expect, it } from 'vitest';
import type { ChildOutcome, Job } from '../../src/index.js';
import { useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();
afterEach(stopAll);

type TreePayload = { kind: 'parent' } | { kind: 'ok'; n: number } | { kind: 'bad' };

describe('job trees at run time', () => {
  it('the rollup finalizer runs once, after every child, with merged results and failures', async () => {
    const q = await t.arbiter.createQueue<TreePayload>('tree');
    const finalizerSaw: Map<string, ChildOutcome>[] = [];
    const childrenDone: string[] = [];
    await startWorker(t.arbiter, {
      queues: {
        tree: {
          handler: async (job: Job<TreePayload>, ctx) => {
            const p = job.payload;
            if (p.kind === 'parent') {
              expect(childrenDone).toHaveLength(3);
              finalizerSaw.push(new Map(ctx.children));
              return undefined;
            }
            childrenDone.push(job.id);
            if (p.kind === 'bad') return ctx.fail('child exploded');
            return { doubled: p.n * 2 };
          },
        },
      },
    });
    const tree = await q.enqueueTree({
      payload: { kind: 'parent' },
      rollup: true,
      children: [
        { payload: { kind: 'ok', n: 1 } },
        { payload: { kind: 'ok', n: 2 } },
        { payload: { kind: 'bad' }, options: { maxAttempts: 5 } },
      ],
    });
    await waitFor(async () => (await count(t.pool, t.schema, 'tree')) === 0, 'tree finished');
    expect(finalizerSaw).toHaveLength(1);
    const [a, b, c] = tree.children.map((n) => n.job.id);
    expect([...finalizerSaw[0]!.entries()]).toEqual([
      [a, { ok: true, value: { doubled: 2 } }],
      [b, { ok: true, value: { doubled: 4 } }],
      [c, { ok: false, error: 'child exploded' }],
    ]);
  });
});

describe('child results', () => {
  it('a child result that cannot be stored as JSON fails the attempt instead of wedging the job', async () => {
    const q = await t.arbiter.createQueue<{ kind: string }>('badresult');
    let parentSaw: Map<string, unknown> | undefined;
    await startWorker(t.arbiter, {
      queues: {
        badresult: {
          handler: async (job: Job<{ kind: string }>, ctx) => {
            if (job.payload.kind === 'parent') parentSaw = new Map(ctx.children);
            else return { big: 10n };
            return undefined;
          },
        },
      },
    });
    const tree = await q.enqueueTree({
      payload: { kind: 'parent' },
      rollup: true,
      children: [{ payload: { kind: 'child' }, options: { maxAttempts: 1 } }],
    });
    await waitFor(() => parentSaw !== undefined, 'parent completion round');
    const childId = tree.children[0]!.job.id;
    const outcome = parentSaw!.get(childId) as { ok: boolean; error: string };
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/handler result cannot be stored: .*BigInt/);
  });
});

describe('worker registry and dead workers', () => {
  it('registers with a heartbeat and unregisters on stop', async () => {
    await t.arbiter.createQueue('reg');
    const w = await startWorker(t.arbiter, { queues: { reg: { handler: async () => undefined } } });
    const list = await t.arbiter.listWorkers();
    const me = list.find((x) => x.id === w.id)!;
    expect(me).toMatchObject({ queues: ['reg'], pid: process.pid });
    const first = me.lastHeartbeat.getTime();
    await waitFor(async () => {
      const again = (await t.arbiter.listWorkers()).find((x) => x.id === w.id);
      return again && again.lastHeartbeat.getTime() > first;
    }, 'heartbeat');
    await w.stop();
    expect((await t.arbiter.listWorkers()).find((x) => x.id === w.id)).toBeUndefined();
  });

  it("a silent worker's jobs are released at once, not after their lease; attempts are kept", async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('orphans');
    // A worker that claimed a job with a 1-hour lease and then went silent.
    await t.pool.query(
      `INSERT INTO "${t.schema}"._workers (id, queues, hostname, pid, last_heartbeat)
       VALUES ('ghost', '{orphans}', 'h', 1, now() - interval '1 minute')`,
    );
    await q.enqueue({ n: 1 });
    const [held] = await q.claim({ leaseMs: 3_600_000, workerId: 'ghost' });
    expect(held!.attempts).toBe(1);
    const ran: number[] = [];
    const released: string[][] = [];
    const w = await startWorker(t.arbiter, {
      queues: { orphans: { handler: async (job: Job<{ n: number }>) => void ran.push(job.attempts) } },
    });
    w.on('maintenance:workers-released', (e) => released.push(e.workers));
    await waitFor(() => ran.length === 1, 'orphan re-run', 5_000);
    expect(ran).toEqual([2]);
    expect(released).toEqual([['ghost']]);
    expect(await count(t.pool, t.schema, '_workers', `id = 'ghost'`)).toBe(0);
  });

  it('only one worker is the maintenance leader; another takes over when it stops', async () => {
    await t.arbiter.createQueue('lead');
    const a = await startWorker(t.arbiter, { queues: { lead: { handler: async () => undefined } } });
    const b = await startWorker(t.arbiter, { queues: { lead: { handler: async () => undefined } } });
    await waitFor(() => a.isLeader || b.isLeader, 'a leader');
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    await leader.stop();
    await waitFor(() => other.isLeader, 'takeover', 5_000);
  });
});

describe('stale recovery (two tiers) and exhausted jobs', () => {
  it('recent expired leases go back to retry; ancient ones and exhausted ones to the dead-letter table', async () => {
    const q = await t.arbiter.createQueue<{ k: string }>('stale');
    await q.enqueue({ k: 'recent' }, { maxAttempts: 5 });
    await q.enqueue({ k: 'ancient' }, { maxAttempts: 5 });
    await q.enqueue({ k: 'exhausted' }, { maxAttempts: 1 });
    const claimed = await q.claim({ limit: 3, leaseMs: 60_000, workerId: 'someone' });
    expect(claimed).toHaveLength(3);
    const id = (k: string) => claimed.find((j) => j.payload.k === k)!.id;
    const s = `"${t.schema}".stale`;
    // recent: lease expired a moment ago. ancient: claimed two days ago and still leased (a hung handler
    // heartbeating forever). exhausted: expired on its final attempt.
    await t.pool.query(
      `UPDATE ${s} SET leased_until = now() - interval '1 second', run_at = now() + interval '1 hour'
      WHERE id = $1`,
      [id('recent')],
    );
    await t.pool.query(`UPDATE ${s} SET claimed_at = now() - interval '2 days' WHERE id = $1`, [
      id('ancient'),
    ]);
    await t.pool.query(
      `UPDATE ${s} SET leased_until = now() - interval '1 second', run_at = now() + interval '1 hour'
      WHERE id = $1`,
      [id('exhausted')],
    );
    const recovered: { retried: number; dead: number }[] = [];
    // A worker for another queue: maintenance covers every queue, but nothing here claims 'stale' jobs.
    await t.arbiter.createQueue('bystander');
    const w = await startWorker(t.arbiter, { queues: { bystander: { handler: async () => undefined } } });
    w.on('maintenance:stale-recovered', (e) => e.queue === 'stale' && recovered.push(e));
    await waitFor(async () => (await count(t.pool, t.schema, 'stale_dlq')) === 2, 'two dead letters');
    await waitFor(() => recovered.length > 0 && recovered.some((r) => r.retried === 1), 'tier 1 event');
    const { rows } = await t.pool
      .query(`SELECT id::text, leased_until, run_at <= now() AS due, attempts, last_error
      FROM ${s}`);
    expect(rows).toEqual([
      expect.objectContaining({ id: id('recent'), leased_until: null, attempts: 1, due: true }),
    ]);
    expect(rows[0].last_error).toMatch(/lease expired/);
    const dlq = await t.pool.query(`SELECT job_id::text, last_error FROM ${s}_dlq ORDER BY job_id`);
    expect(dlq.rows.find((r) => r.job_id === id('ancient')).last_error).toMatch(/^stale: claimed at/);
    expect(dlq.rows.find((r) => r.job_id === id('exhausted')).last_error).toMatch(/final attempt/);
  });
});
