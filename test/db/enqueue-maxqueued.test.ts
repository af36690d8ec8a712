import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, QueueFullError, ValidationError, type Job } from '../../src/index.js';
import { statsRead } from '../../src/db/queries/enqueue-controls.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';

// Depth caps (maxQueued), raced by separate Arbiters (separate pools).
const t = useTestDb({ poolSize: 8 });
const HOSTS = 4;
const hosts: { arbiter: Arbiter; pool: pg.Pool }[] = [];

function racers(): Arbiter[] {
  while (hosts.length < HOSTS) {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
    pool.on('error', () => undefined);
    hosts.push({ arbiter: new Arbiter({ pool, schema: t.schema }), pool });
  }
  return hosts.map((h) => h.arbiter);
}

afterAll(async () => {
  await stopAll();
  await Promise.all(hosts.map((h) => h.pool.end()));
});

const rows = async (queue: string, where = 'true') =>
  (await t.pool.query(`SELECT * FROM "${t.schema}"."${queue}" WHERE ${where} ORDER BY id`)).rows as {
    id: string;
    payload: { i: number };
    group_key: string | null;
  }[];
const stat = async (queue: string, kind: string) =>
  (await statsRead(t.arbiter.db, t.schema)).find((s) => s.queue === queue && s.kind === kind)?.count ?? 0;

/** Settles every promise; returns the values and the errors. */
async function settle<T>(ps: Promise<T>[]): Promise<{ ok: T[]; errors: unknown[] }> {
  const out = await Promise.allSettled(ps);
  return {
    ok: out.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: out.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

describe('maxQueued', () => {
  it('reject: racing hosts fill the queue to exactly the cap, the rest get QueueFullError (5 rounds)', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `c_reject_${round}`;
      await t.arbiter.createQueue(name);
      const arbiters = racers();
      const { ok, errors } = await settle(
        Array.from({ length: 40 }, (_, i) =>
          arbiters[i % HOSTS]!.queue(name).enqueue({ i }, { maxQueued: { limit: 7 } }),
        ),
      );
      expect(ok).toHaveLength(7);
      expect(errors).toHaveLength(33);
      for (const e of errors) {
        expect(e).toBeInstanceOf(QueueFullError);
        expect((e as QueueFullError).code).toBe('QUEUE_FULL');
      }
      expect(await rows(name)).toHaveLength(7);
      expect(await stat(name, 'overflow_rejected')).toBe(33);
    }
  });

  it('in-flight jobs do not count: claiming makes room', async () => {
    const q = await t.arbiter.createQueue('c_flight');
    const cap = { maxQueued: { limit: 2 } };
    await q.enqueue({ i: 1 }, cap);
    await q.enqueue({ i: 2 }, cap);
    await expect(q.enqueue({ i: 3 }, cap)).rejects.toBeInstanceOf(QueueFullError);
    await q.claim({ limit: 1 });
    expect((await q.enqueue({ i: 4 }, cap))?.enqueueOutcome).toBe('created');
    expect(await rows('c_flight')).toHaveLength(3);
  });

  it('dropOldest per group: racing hosts leave exactly the cap in the group, other groups untouched', async () => {
    const name = 'c_drop';
    const q = await t.arbiter.createQueue(name);
    for (let i = 0; i < 3; i++) await q.enqueue({ i: 100 + i }, { groupKey: 'other' });
    const arbiters = racers();
    const { ok, errors } = await settle(
      Array.from({ length: 30 }, (_, i) =>
        arbiters[i % HOSTS]!.queue(name).enqueue(
          { i },
          { groupKey: 'g', maxQueued: { limit: 4, scope: 'group', overflow: 'dropOldest' } },
        ),
      ),
    );
    expect(errors).toEqual([]);
    expect(ok).toHaveLength(30);
    const left = await rows(name, `group_key = 'g'`);
    expect(left).toHaveLength(4);
    // The survivors are the four newest (each drop took the oldest).
    const newest = ok
      .map((j) => j!.id)
      .sort((a, b) => Number(BigInt(a) - BigInt(b)))
      .slice(-4);
    expect(left.map((r) => r.id)).toEqual(newest);
    expect(await rows(name, `group_key = 'other'`)).toHaveLength(3);
    expect(await stat(name, 'overflow_dropped')).toBe(26);
  });

  it('wait: an enqueue at the cap goes in once a claim makes room; past its timeout it is rejected', async () => {
    const q = await t.arbiter.createQueue('c_wait');
    await q.enqueue({ i: 0 }, { maxQueued: { limit: 1 } });
    await expect(
      q.enqueue({ i: 1 }, { maxQueued: { limit: 1, overflow: 'wait', timeoutMs: 50 } }),
    ).rejects.toBeInstanceOf(QueueFullError);
    const waiting = q.enqueue({ i: 2 }, { maxQueued: { limit: 1, overflow: 'wait', timeoutMs: 30_000 } });
    // Still waiting while the queue is full: poll the rows, then make room.
    expect(await rows('c_wait')).toHaveLength(1);
    const [claimed] = await q.claim({ limit: 1 });
    expect(claimed?.payload).toEqual({ i: 0 });
    expect((await waiting)?.enqueueOutcome).toBe('created');
    expect((await rows('c_wait')).map((r) => r.payload)).toEqual([{ i: 0 }, { i: 2 }]);
  });

  it('holds across a worker restart: the cap is counted from the table, whoever enqueues', async () => {
    await t.arbiter.createQueue('c_restart');
    const runs: unknown[] = [];
    const handler = async (job: Job<Record<string, unknown>>) => {
      runs.push(job.payload);
    };
    const cap = { maxQueued: { limit: 3 } };
    for (let i = 0; i < 3; i++) await t.arbiter.queue('c_restart').enqueue({ i }, cap);
    await expect(t.arbiter.queue('c_restart').enqueue({ i: 3 }, cap)).rejects.toBeInstanceOf(QueueFullError);
    const w1 = await startWorker(t.arbiter, { queues: { c_restart: { handler } } });
    await waitFor(async () => (await rows('c_restart')).length === 0, 'drained');
    await w1.stop({ timeoutMs: 1_000 });
    const arbiters = racers();
    const { ok, errors } = await settle(
      Array.from({ length: 12 }, (_, i) =>
        arbiters[i % HOSTS]!.queue('c_restart').enqueue({ i: 10 + i }, cap),
      ),
    );
    expect(ok).toHaveLength(3);
    expect(errors).toHaveLength(9);
    await startWorker(arbiters[0]!, { queues: { c_restart: { handler } } });
    await waitFor(() => runs.length === 6, 'second drain');
  });

  it('combines with debounce: an enqueue folded into the pending job needs no room', async () => {
    const q = await t.arbiter.createQueue('c_debounce');
    const opts = { debounce: { key: 'k', windowMs: 60_000 }, maxQueued: { limit: 1 } };
    expect((await q.enqueue({ i: 1 }, opts))?.enqueueOutcome).toBe('created');
    expect((await q.enqueue({ i: 2 }, opts))?.enqueueOutcome).toBe('replaced');
    await expect(
      q.enqueue({ i: 3 }, { debounce: { key: 'other', windowMs: 60_000 }, maxQueued: { limit: 1 } }),
    ).rejects.toBeInstanceOf(QueueFullError);
    expect(await rows('c_debounce')).toHaveLength(1);
  });

  it('bad input: typed errors, nothing written', async () => {
    const q = await t.arbiter.createQueue('c_bad');
    const bad: unknown[] = [
      { maxQueued: { limit: 0 } },
      { maxQueued: { limit: 100_001 } },
      { maxQueued: { limit: 1.5 } },
      { maxQueued: {} },
      { maxQueued: { limit: 5, scope: 'group' } },
      { maxQueued: { limit: 5, scope: 'tenant' } },
      { maxQueued: { limit: 5, overflow: 'bogus' } },
      { maxQueued: { limit: 5, timeoutMs: 10 } },
      { maxQueued: { limit: 5, overflow: 'wait', timeoutMs: 0 } },
      { maxQueued: { limit: 5, overflow: 'wait', timeoutMs: 60_001 } },
    ];
    for (const o of bad) {
      await expect(q.enqueue({}, o as never), JSON.stringify(o)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(q.enqueueMany([{ payload: {}, maxQueued: { limit: 5 } }])).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await rows('c_bad')).toHaveLength(0);
  });
});
