import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import { killChildren, startChild, type Child } from '../support/child-process.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { count, startWorker, stopAll, waitFor } from './helpers.js';

const t = useTestDb();

afterEach(stopAll);
afterAll(killChildren);

beforeAll(async () => {
  await t.pool.query(`CREATE TABLE "${t.schema}".effects (job_id bigint, attempt int, pid int, phase text,
    at timestamptz NOT NULL DEFAULT clock_timestamp())`);
});

function spawnWorker(queue: string, env: Record<string, string>): Promise<Child> {
  return startChild('worker-process', {
    DATABASE_URL: databaseUrl(),
    SCHEMA: t.schema,
    QUEUE: queue,
    ...env,
  });
}

async function effects(
  phase: string,
  where = 'true',
): Promise<{ job_id: string; attempt: number; pid: number }[]> {
  const { rows } = await t.pool.query(
    `SELECT job_id::text, attempt, pid FROM "${t.schema}".effects WHERE phase = $1 AND ${where} ORDER BY job_id, attempt`,
    [phase],
  );
  return rows;
}

describe('real worker processes', () => {
  it('SIGKILL mid-job: the jobs run again on another worker within the dead-worker threshold; nothing lost', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('killed');
    // A long lease: only dead-worker detection (threshold 1.5 s), not lease expiry, can release the jobs in time.
    const victim = await spawnWorker('killed', { HANDLER_MS: '60000', CONCURRENCY: '4', LEASE_MS: '60000' });
    await q.enqueueMany(Array.from({ length: 10 }, (_, n) => ({ payload: { n } })));
    await waitFor(async () => (await effects('started')).length === 4, 'victim holds 4 jobs', 10_000);
    const held = (await effects('started')).map((e) => e.job_id);
    victim.child.kill('SIGKILL');
    const { signal } = await victim.exited;
    expect(signal).toBe('SIGKILL');
    const killedAt = Date.now();

    const ran: { id: string; attempts: number }[] = [];
    const rerunAt: number[] = [];
    await startWorker(t.arbiter, {
      concurrency: 4,
      queues: {
        killed: {
          leaseMs: 60_000,
          handler: async (job: Job<{ n: number }>) => {
            ran.push({ id: job.id, attempts: job.attempts });
            if (job.attempts > 1) rerunAt.push(Date.now());
          },
        },
      },
    });
    await waitFor(async () => (await count(t.pool, t.schema, 'killed')) === 0, 'every job done', 15_000);
    if (process.env.ARBITER_TEST_DEBUG)
      console.log(
        'rerun after',
        rerunAt.map((x) => x - killedAt),
      );
    expect(ran).toHaveLength(10);
    for (const id of held) expect(ran.find((r) => r.id === id)).toEqual({ id, attempts: 2 });
    // Released by the registry sweep (threshold 1.5 s + sweep interval), far before the 60 s lease expires.
    expect(rerunAt).toHaveLength(4);
    expect(Math.max(...rerunAt) - killedAt).toBeLessThan(8_000);
    expect(await count(t.pool, t.schema, 'killed_dlq')).toBe(0);
  });

  it('SIGTERM drains: in-flight jobs finish, nothing new is claimed, exit code 0', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('termed');
    const w = await spawnWorker('termed', { HANDLER_MS: '800', CONCURRENCY: '2' });
    await q.enqueueMany([1, 2].map((n) => ({ payload: { n } })));
    await waitFor(
      async () => (await effects('started', `pid = ${w.child.pid}`)).length === 2,
      'two in flight',
      10_000,
    );
    await q.enqueueMany([3, 4, 5].map((n) => ({ payload: { n } })));
    w.child.kill('SIGTERM');
    const { code, signal } = await w.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(w.output()).toContain('stopped');
    const finished = await effects('finished', `pid = ${w.child.pid}`);
    const started = await effects('started', `pid = ${w.child.pid}`);
    expect(finished).toHaveLength(2);
    expect(started).toHaveLength(2);
    const { rows } = await t.pool.query(
      `SELECT payload->>'n' AS n, attempts FROM "${t.schema}".termed ORDER BY id`,
    );
    expect(rows).toEqual([
      { n: '3', attempts: 0 },
      { n: '4', attempts: 0 },
      { n: '5', attempts: 0 },
    ]);
    expect(await count(t.pool, t.schema, '_workers', `pid = ${w.child.pid}`)).toBe(0);
  });

  it('a job that kills its worker on every attempt is dead-lettered after exactly maxAttempts deaths', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('poison');
    await t.arbiter.createQueue('janitor');
    // A worker on another queue: it only runs maintenance (dead-worker release, exhausted-job reaper).
    await startWorker(t.arbiter, { queues: { janitor: { handler: async () => undefined } } });
    const job = (await q.enqueue({ n: 1 }, { maxAttempts: 3 }))!;
    for (let death = 1; death <= 3; death++) {
      const w = await spawnWorker('poison', { HANDLER: 'suicide', CONCURRENCY: '1' });
      expect((await w.exited).signal).toBe('SIGKILL');
      const { rows } = await t.pool.query(
        `SELECT attempt FROM "${t.schema}".effects WHERE job_id = $1 AND pid = $2`,
        [job.id, w.child.pid],
      );
      expect(rows).toEqual([{ attempt: death }]);
    }
    await waitFor(async () => (await count(t.pool, t.schema, 'poison_dlq')) === 1, 'dead letter', 10_000);
    const { rows } = await t.pool.query(`SELECT attempts, last_error FROM "${t.schema}".poison_dlq`);
    expect(rows[0].attempts).toBe(3);
    expect(rows[0].last_error).toMatch(/worker lost/);
    expect(await count(t.pool, t.schema, 'poison')).toBe(0);
  });
});
