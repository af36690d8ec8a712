import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, ValidationError, type Job } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';
import { startWorker, stopAll, waitFor } from '../worker/helpers.js';

// Debounce and throttle, raced by separate Arbiters (separate pools), and across a worker restart.
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

const rows = async (queue: string) =>
  (await t.pool.query(`SELECT * FROM "${t.schema}"."${queue}" ORDER BY id`)).rows as {
    id: string;
    payload: { i: number };
    attempts: number;
    run_at: Date;
  }[];
const sql = (text: string, params: unknown[] = []) => t.pool.query(text, params);

describe('debounce', () => {
  it('racing hosts: one job per key, every other enqueue absorbed, the count stored (10 rounds)', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('d_race');
    const arbiters = racers();
    for (let round = 0; round < 10; round++) {
      const key = `k${round}`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          arbiters[i % HOSTS]!.queue<{ i: number }>('d_race').enqueue(
            { i },
            { debounce: { key, windowMs: 3_600_000 } },
          ),
        ),
      );
      const created = results.filter((r) => r?.enqueueOutcome === 'created');
      expect(created).toHaveLength(1);
      expect(results.filter((r) => r?.enqueueOutcome === 'replaced')).toHaveLength(39);
      expect(new Set(results.map((r) => r?.id)).size).toBe(1);
      const job = await q.jobs.get(created[0]!.id);
      expect(job?.debounced).toEqual({ key, absorbed: 39 });
      // Trailing: the payload is the one of an enqueue that replaced it (the last to take the key's lock),
      // and that enqueue returned it. (Which one went last is the lock's call; the sequential test below
      // checks the order.)
      const replacers = results.filter((r) => r?.enqueueOutcome === 'replaced').map((r) => r!.payload);
      expect(replacers).toContainEqual(job?.payload);
    }
    expect(await rows('d_race')).toHaveLength(10);
  });

  it('takes the last payload, moves the run time, and never past maxWaitMs from the first enqueue', async () => {
    const q = await t.arbiter.createQueue<{ i: number }>('d_wait');
    const opts = { debounce: { key: 'k', windowMs: 60_000, maxWaitMs: 120_000 } };
    const a = await q.enqueue({ i: 1 }, opts);
    const b = await q.enqueue({ i: 2 }, opts);
    expect(b?.enqueueOutcome).toBe('replaced');
    expect(b?.id).toBe(a?.id);
    expect(b!.runAt.getTime()).toBeGreaterThanOrEqual(a!.runAt.getTime());
    // As if the first enqueue was 119 s ago: the next one can only take the payload (run at the cap).
    await sql(
      `UPDATE "${t.schema}"._enqueue_keys SET first_at = now() - interval '119 seconds' WHERE queue = 'd_wait'`,
    );
    const c = await q.enqueue({ i: 3 }, opts);
    expect(c?.enqueueOutcome).toBe('absorbed');
    const [row] = await rows('d_wait');
    expect(row!.payload).toEqual({ i: 3 });
    const { rows: lag } = await sql(
      `SELECT (j.run_at - k.first_at) <= interval '120 seconds' AS capped
       FROM "${t.schema}".d_wait j JOIN "${t.schema}"._enqueue_keys k ON k.job_id = j.id`,
    );
    expect(lag[0].capped).toBe(true);
    expect((await q.jobs.get(a!.id))?.debounced?.absorbed).toBe(2);
  });

  it('racing producers and claimers: at most one pending job per key, and the last payload always runs', async () => {
    await t.arbiter.createQueue<{ i: number }>('d_claim');
    const arbiters = racers();
    for (let round = 0; round < 5; round++) {
      const key = `r${round}`;
      const ran: number[] = [];
      let done = false;
      const claimer = (async () => {
        const q = t.arbiter.queue<{ i: number }>('d_claim');
        while (!done || (await rows('d_claim')).length > 0) {
          // Make whatever is pending due at once, then claim it: the race is between enqueues and claims.
          await sql(`UPDATE "${t.schema}".d_claim SET run_at = now() WHERE leased_until IS NULL`);
          for (const j of await q.claim({ limit: 5 })) {
            ran.push(j.payload.i);
            expect(await q.ack(j)).toBe(1);
          }
        }
      })();
      let next = 0;
      await Promise.all(
        arbiters.map(async (a) => {
          for (let n = 0; n < 10; n++) {
            await a
              .queue<{ i: number }>('d_claim')
              .enqueue({ i: next++ }, { debounce: { key, windowMs: 60_000 } });
            const pending = await sql(
              `SELECT count(*)::int AS n FROM "${t.schema}".d_claim WHERE attempts = 0 AND leased_until IS NULL`,
            );
            expect(pending.rows[0].n).toBeLessThanOrEqual(1);
          }
        }),
      );
      const lastPayload = (
        await sql(
          `SELECT j.payload FROM "${t.schema}".d_claim j JOIN "${t.schema}"._enqueue_keys k ON k.job_id = j.id
         WHERE k.queue = 'd_claim' AND k.key = $1`,
          [key],
        )
      ).rows[0]?.payload as { i: number } | undefined;
      done = true;
      await claimer;
      expect(new Set(ran).size).toBe(ran.length);
      // The job holding the key at the end (if a claim had not taken it already) was run.
      if (lastPayload) expect(ran).toContain(lastPayload.i);
      expect(ran.length).toBeGreaterThan(0);
      expect(ran.length).toBeLessThanOrEqual(80);
    }
  });

  it('runs once, with the last payload, across a worker restart', async () => {
    await t.arbiter.createQueue('d_restart');
    const runs: unknown[] = [];
    const handler = async (job: Job<Record<string, unknown>>) => {
      runs.push(job.payload);
    };
    const w1 = await startWorker(t.arbiter, { queues: { d_restart: { handler } } });
    const opts = { debounce: { key: 'k', windowMs: 3_600_000 } };
    const q = t.arbiter.queue('d_restart');
    await q.enqueue({ n: 1 }, opts);
    await q.enqueue({ n: 2 }, opts);
    await w1.stop({ timeoutMs: 1_000 });
    const [other] = racers();
    await other!.queue('d_restart').enqueue({ n: 3 }, opts);
    await startWorker(other!, { queues: { d_restart: { handler } } });
    // The window is an hour: make it due now instead of waiting.
    await sql(`UPDATE "${t.schema}".d_restart SET run_at = now()`);
    await waitFor(async () => runs.length === 1 && (await rows('d_restart')).length === 0, 'the run');
    expect(runs).toEqual([{ n: 3 }]);
  });

  it('bad input: typed errors, nothing written', async () => {
    const q = await t.arbiter.createQueue('d_bad');
    const bad: unknown[] = [
      { debounce: { key: 'k', windowMs: 0 } },
      { debounce: { key: 'k', windowMs: 24 * 3600 * 1000 + 1 } },
      { debounce: { key: 'k', windowMs: 1000, maxWaitMs: 999 } },
      { debounce: { key: 'k', windowMs: 'soon' } },
      { debounce: { key: 'x'.repeat(513), windowMs: 10 } },
      { debounce: { windowMs: 10 } },
      { debounce: { key: 'k', windowMs: 10 }, idempotencyKey: 'i' },
      { debounce: { key: 'k', windowMs: 10 }, dedup: { key: 'k' } },
      { debounce: { key: 'k', windowMs: 10 }, delayMs: 5 },
      { debounce: { key: 'k', windowMs: 10 }, throttle: { key: 'k', windowMs: 10 } },
      { throttle: { key: 'k', windowMs: 0 } },
      { throttle: { key: 'k', windowMs: 10, trailing: 'yes' } },
      { throttle: { key: 'k', windowMs: 10 }, runAt: new Date() },
    ];
    for (const o of bad) {
      await expect(q.enqueue({}, o as never), JSON.stringify(o)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(await rows('d_bad')).toHaveLength(0);
    const { rows: k } = await sql(`SELECT * FROM "${t.schema}"._enqueue_keys WHERE queue = 'd_bad'`);
    expect(k).toHaveLength(0);
  });
});

describe('throttle', () => {
  it('racing hosts: one job per window; later enqueues return it and insert nothing (10 rounds)', async () => {
    await t.arbiter.createQueue('t_race');
    const arbiters = racers();
    for (let round = 0; round < 10; round++) {
      const key = `k${round}`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          arbiters[i % HOSTS]!.queue('t_race').enqueue({ i }, { throttle: { key, windowMs: 3_600_000 } }),
        ),
      );
      const created = results.filter((r) => r?.enqueueOutcome === 'created');
      expect(created).toHaveLength(1);
      expect(results.filter((r) => r?.enqueueOutcome === 'throttled')).toHaveLength(39);
      expect(new Set(results.map((r) => r?.id)).size).toBe(1);
    }
    expect(await rows('t_race')).toHaveLength(10);
  });

  it('trailing: racing hosts leave exactly one trailing job, due at the end of the window, with a payload sent', async () => {
    await t.arbiter.createQueue<{ i: number }>('t_trail');
    const arbiters = racers();
    const opts = { throttle: { key: 'k', windowMs: 3_600_000, trailing: true } };
    const first = await t.arbiter.queue('t_trail').enqueue({ i: -1 }, opts);
    expect(first?.enqueueOutcome).toBe('created');
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => arbiters[i % HOSTS]!.queue('t_trail').enqueue({ i }, opts)),
    );
    expect(results.filter((r) => r?.enqueueOutcome === 'created')).toHaveLength(1);
    expect(results.filter((r) => r?.enqueueOutcome === 'replaced')).toHaveLength(39);
    const all = await rows('t_trail');
    expect(all).toHaveLength(2);
    expect(all[1]!.run_at.getTime() - all[0]!.run_at.getTime()).toBeGreaterThanOrEqual(3_600_000 - 1_000);
    expect(all[1]!.payload.i).toBeGreaterThanOrEqual(0);
  });

  it('a new window after the last one ended; the key survives a worker restart', async () => {
    await t.arbiter.createQueue('t_restart');
    const runs: unknown[] = [];
    const handler = async (job: Job<Record<string, unknown>>) => {
      runs.push(job.payload);
    };
    const opts = { throttle: { key: 'k', windowMs: 3_600_000 } };
    const w1 = await startWorker(t.arbiter, { queues: { t_restart: { handler } } });
    await t.arbiter.queue('t_restart').enqueue({ n: 1 }, opts);
    await waitFor(async () => runs.length === 1 && (await rows('t_restart')).length === 0, 'first run');
    await w1.stop({ timeoutMs: 1_000 });
    const [other] = racers();
    await startWorker(other!, { queues: { t_restart: { handler } } });
    const again = await Promise.all(hosts.map((h) => h.arbiter.queue('t_restart').enqueue({ n: 2 }, opts)));
    // Within the window: throttled; the job it let through is gone, so there is nothing to return.
    expect(again.every((r) => r === null)).toBe(true);
    await sql(
      `UPDATE "${t.schema}"._enqueue_keys SET expires_at = now() - interval '1 second' WHERE queue = 't_restart'`,
    );
    const next = await t.arbiter.queue('t_restart').enqueue({ n: 3 }, opts);
    expect(next?.enqueueOutcome).toBe('created');
    await waitFor(() => runs.length === 2, 'second run');
    expect(runs).toEqual([{ n: 1 }, { n: 3 }]);
  });
});
