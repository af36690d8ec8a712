import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, ValidationError, type Job, type Queue } from '../../src/index.js';
import { sweepEnqueueKeys } from '../../src/worker/enqueue-keys.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';

// Uniqueness over a period. Racing producers are separate Arbiters (separate pools: separate hosts, as far
// as the database can tell), all enqueueing the same key at once.
const t = useTestDb({ poolSize: 8 });
const HOSTS = 4;
const hosts: { arbiter: Arbiter; pool: pg.Pool }[] = [];

async function racers(): Promise<Arbiter[]> {
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

const rows = async (queue: string, where = 'true', params: unknown[] = []) =>
  (await t.pool.query(`SELECT * FROM "${t.schema}"."${queue}" WHERE ${where} ORDER BY id`, params)).rows;
const keyRow = async (queue: string, key: string) =>
  (
    await t.pool.query(`SELECT * FROM "${t.schema}"._enqueue_keys WHERE queue = $1 AND key = $2`, [
      queue,
      key,
    ])
  ).rows[0] as { job_id: string; expires_at: Date | null } | undefined;
/** Moves a key's expiry into the past, as if its period had run out (no waiting for time). */
const expire = (queue: string, key: string) =>
  t.pool.query(
    `UPDATE "${t.schema}"._enqueue_keys SET expires_at = now() - interval '1 second'
     WHERE queue = $1 AND key = $2`,
    [queue, key],
  );

const deadLetter = (queue: string, job: Job<unknown>) =>
  t.arbiter.store(queue).deadLetter([{ id: job.id, attempts: job.attempts, error: 'boom' }]);

async function claimAndAck(q: Queue<unknown>): Promise<Job<unknown>> {
  const [job] = await q.claim({ limit: 1 });
  expect(job).toBeDefined();
  expect(await q.ack(job!)).toBe(1);
  return job!;
}

describe('unique over a period', () => {
  it('racing hosts: exactly one job per key, every other enqueue reports the holder (10 rounds)', async () => {
    await t.arbiter.createQueue('u_race');
    const arbiters = await racers();
    for (let round = 0; round < 10; round++) {
      const key = `k${round}`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          arbiters[i % HOSTS]!.queue('u_race').enqueue({ i }, { unique: { key, forMs: 60_000 } }),
        ),
      );
      const created = results.filter((r) => r?.enqueueOutcome === 'created');
      expect(created).toHaveLength(1);
      for (const r of results) {
        expect(r?.id).toBe(created[0]!.id);
        if (r !== created[0]) expect(r?.enqueueOutcome).toBe('duplicate');
      }
      expect(await rows('u_race', `id = $1`, [created[0]!.id])).toHaveLength(1);
    }
    expect(await rows('u_race')).toHaveLength(10);
  });

  it('holds the key after the job finished, until the period runs out; racing again then: one job', async () => {
    const q = await t.arbiter.createQueue('u_after');
    const first = await q.enqueue({ n: 1 }, { unique: { key: 'tick', forMs: 3_600_000 } });
    expect(first?.enqueueOutcome).toBe('created');
    await claimAndAck(q);
    // Gone, but within the period: nothing is written, and there is no live job to return.
    expect(await q.enqueue({ n: 2 }, { unique: { key: 'tick', forMs: 3_600_000 } })).toBeNull();
    expect(await rows('u_after')).toHaveLength(0);
    const row = await keyRow('u_after', 'tick');
    expect(row?.expires_at).not.toBeNull();
    await expire('u_after', 'tick');
    const arbiters = await racers();
    const results = await Promise.all(
      arbiters.map((a) =>
        a.queue('u_after').enqueue({ n: 3 }, { unique: { key: 'tick', forMs: 3_600_000 } }),
      ),
    );
    expect(results.filter((r) => r?.enqueueOutcome === 'created')).toHaveLength(1);
    expect(await rows('u_after')).toHaveLength(1);
  });

  it("after: 'dead' frees the key when the job succeeded; 'succeeded' frees it when it was dead-lettered", async () => {
    const run = async (key: string, after: 'dead' | 'succeeded', outcome: 'ack' | 'dead') => {
      const q = await t.arbiter.createQueue(`u_states_${key}`);
      const opts = { unique: { key, forMs: 3_600_000, after } };
      expect((await q.enqueue({}, opts))?.enqueueOutcome).toBe('created');
      const [job] = await q.claim({ limit: 1 });
      if (outcome === 'ack') expect(await q.ack(job!)).toBe(1);
      else expect(await deadLetter(q.name, job!)).toBe(1);
      return q.enqueue({}, opts);
    };
    expect((await run('a', 'dead', 'ack'))?.enqueueOutcome).toBe('created');
    expect((await run('b', 'succeeded', 'dead'))?.enqueueOutcome).toBe('created');
    expect(await run('c', 'dead', 'dead')).toBeNull();
    expect(await run('d', 'succeeded', 'ack')).toBeNull();
    // a and b were enqueued again: one live job each.
    expect(await rows('u_states_a')).toHaveLength(1);
    expect(await rows('u_states_b')).toHaveLength(1);
  });

  it('the maintenance sweep gives finished keys their expiry and deletes expired rows in batches', async () => {
    const q = await t.arbiter.createQueue('u_sweep');
    for (let i = 0; i < 30; i++) await q.enqueue({ i }, { unique: { key: `s${i}`, forMs: 1 } });
    for (let i = 0; i < 30; i++) await claimAndAck(q);
    const swept = await sweepEnqueueKeys(t.arbiter, ['u_sweep'], () => false);
    expect(swept.resolved).toBe(30);
    // forMs 1: expired by now or within a millisecond; poll until the expiry sweep removed them all.
    await waitFor(async () => {
      await sweepEnqueueKeys(t.arbiter, ['u_sweep'], () => false);
      const { rows: r } = await t.pool.query(
        `SELECT count(*)::int AS n FROM "${t.schema}"._enqueue_keys WHERE queue = 'u_sweep'`,
      );
      return r[0].n === 0;
    }, 'expired keys pruned');
  });

  it('holds across a worker restart: a new worker on a new Arbiter does not run the key again', async () => {
    await t.arbiter.createQueue('u_restart');
    const runs: unknown[] = [];
    const handler = async (job: Job<Record<string, unknown>>) => {
      runs.push(job.payload);
    };
    const w1 = await startWorker(t.arbiter, { queues: { u_restart: { handler } } });
    const opts = { unique: { key: 'daily', forMs: 3_600_000 } };
    await t.arbiter.queue('u_restart').enqueue({ run: 1 }, opts);
    await waitFor(() => runs.length === 1 && rows('u_restart').then((r) => r.length === 0), 'first run');
    await w1.stop({ timeoutMs: 1_000 });
    const [other] = await racers();
    await startWorker(other!, { queues: { u_restart: { handler } } });
    const again = await Promise.all(hosts.map((h) => h.arbiter.queue('u_restart').enqueue({ run: 2 }, opts)));
    expect(again.every((r) => r === null)).toBe(true);
    expect(await rows('u_restart')).toHaveLength(0);
    expect(runs).toHaveLength(1);
  });

  it('bad input: typed errors, nothing written', async () => {
    const q = await t.arbiter.createQueue('u_bad');
    const bad: unknown[] = [
      { unique: { key: 'k', forMs: 0 } },
      { unique: { key: 'k', forMs: -5 } },
      { unique: { key: 'k', forMs: Infinity } },
      { unique: { key: '', forMs: 10 } },
      { unique: { key: 'x'.repeat(513), forMs: 10 } },
      { unique: { forMs: 10 } },
      { unique: { key: 'k', forMs: 10, after: 'sometimes' } },
      { unique: { key: 'k', forMs: 10, extra: 1 } },
      { unique: { key: 'k', forMs: 10 }, dedup: { key: 'k' } },
      { unique: { key: 'k', forMs: 10 }, idempotencyKey: 'i' },
      { unique: { key: 'k', forMs: 10 }, debounce: { key: 'k', windowMs: 10 } },
      { unique: { key: 'k', forMs: 10 }, parentId: '1' },
    ];
    for (const o of bad) {
      await expect(q.enqueue({}, o as never), JSON.stringify(o)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(q.enqueueMany([{ payload: {}, unique: { key: 'k', forMs: 10 } }])).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await rows('u_bad')).toHaveLength(0);
    expect(await keyRow('u_bad', 'k')).toBeUndefined();
  });
});
