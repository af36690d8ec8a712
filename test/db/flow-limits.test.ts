import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Arbiter, QueueNotFoundError, ValidationError, type Job } from '../../src/index.js';
import { databaseUrl, useTestDb } from '../support/db.js';

const t = useTestDb();
const extraPools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(extraPools.map((p) => p.end()));
});

/** Another Arbiter on its own pool: as far as flow control can tell, another process. */
function anotherProcess(): Arbiter {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  pool.on('error', () => undefined);
  extraPools.push(pool);
  return new Arbiter({ pool, schema: t.schema });
}

async function leased(queue: string): Promise<number> {
  const { rows } = await t.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${t.schema}"."${queue}" WHERE leased_until IS NOT NULL`,
  );
  return rows[0]!.n;
}

describe('flow control: queue limits', () => {
  it('rejects bad values with typed errors and writes nothing', async () => {
    await t.arbiter.createQueue('fl_bad');
    await t.arbiter.setQueueLimits('fl_bad', { maxInFlight: 4 });
    const bad: unknown[] = [
      { maxInFlight: 0 },
      { maxInFlight: -1 },
      { maxInFlight: 1.5 },
      { maxInFlight: Number.NaN },
      { maxInFlight: '3' },
      { rate: { perSecond: 0 } },
      { rate: { perSecond: -5 } },
      { rate: { perSecond: Number.NaN } },
      { rate: { perSecond: Infinity } },
      { rate: { perSecond: 10, burst: 0 } },
      { rate: { perSecond: 10, cost: 5, burst: 2 } },
      { rate: { perSecond: 10, extra: 1 } },
      { rate: 10 },
      { concurrency: 3 },
      null,
      [],
    ];
    for (const patch of bad) {
      await expect(t.arbiter.setQueueLimits('fl_bad', patch as never)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    await expect(t.arbiter.setQueueLimits('fl_nope', { maxInFlight: 3 })).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
    await expect(t.arbiter.getQueueLimits('fl_nope')).rejects.toBeInstanceOf(QueueNotFoundError);
    expect(await t.arbiter.getQueueLimits('fl_bad')).toEqual({ maxInFlight: 4, rate: null, perKey: null });
    const { rows } = await t.pool.query(`SELECT queue FROM "${t.schema}"._flow_limits ORDER BY queue`);
    expect(rows).toEqual([{ queue: 'fl_bad' }]);
  });

  it('patches limits one by one and removes the row when none is left', async () => {
    await t.arbiter.createQueue('fl_patch');
    expect(await t.arbiter.getQueueLimits('fl_patch')).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: null,
    });
    expect(await t.arbiter.setQueueLimits('fl_patch', { rate: { perSecond: 5 } })).toEqual({
      maxInFlight: null,
      rate: { perSecond: 5, burst: 5, cost: 1 },
      perKey: null,
    });
    expect(await t.arbiter.setQueueLimits('fl_patch', { maxInFlight: 2 })).toEqual({
      maxInFlight: 2,
      rate: { perSecond: 5, burst: 5, cost: 1 },
      perKey: null,
    });
    await t.arbiter.setQueueLimits('fl_patch', { rate: null, maxInFlight: null });
    // Dropping a queue drops its limits: created again, it starts without any.
    await t.arbiter.setQueueLimits('fl_patch', { maxInFlight: 7 });
    await t.arbiter.dropQueue('fl_patch');
    await t.arbiter.createQueue('fl_patch');
    expect(await t.arbiter.getQueueLimits('fl_patch')).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: null,
    });
    const { rows } = await t.pool.query(`SELECT 1 FROM "${t.schema}"._flow_limits WHERE queue = 'fl_patch'`);
    expect(rows).toEqual([]);
  });

  it('a queue cap: claims take only what is left under it, and an ack frees a slot', async () => {
    const q = await t.arbiter.createQueue('fl_cap');
    for (let i = 0; i < 10; i++) await q.enqueue({ i }, i % 2 ? { groupKey: `g${i}` } : {});
    await t.arbiter.setQueueLimits('fl_cap', { maxInFlight: 3 });
    const first = await q.claim({ limit: 10 });
    expect(first).toHaveLength(3);
    expect(await q.claim({ limit: 10 })).toEqual([]);
    expect(await q.claimBatched({ batchSize: 5, maxBatches: 5 })).toEqual([]);
    await q.ack(first[0]!);
    expect(await q.claim({ limit: 10 })).toHaveLength(1);
    expect(await leased('fl_cap')).toBe(3);
    // Removing the cap lets the claim take the rest at once.
    await t.arbiter.setQueueLimits('fl_cap', { maxInFlight: null });
    expect(await q.claim({ limit: 10 })).toHaveLength(6);
  });

  it('a bucket: a claim takes what the tokens pay for and says when the next token is due', async () => {
    const q = await t.arbiter.createQueue('fl_rate');
    for (let i = 0; i < 20; i++) await q.enqueue({ i });
    await t.arbiter.setQueueLimits('fl_rate', { rate: { perSecond: 0.5, burst: 4, cost: 2 } });
    const a = await q.claimWithNextDue({ limit: 10 });
    expect(a.jobs).toHaveLength(2);
    expect(a.nextDueMs).toBeGreaterThan(0);
    expect(a.nextDueMs).toBeLessThanOrEqual(4000);
    const b = await q.claimWithNextDue({ limit: 10 });
    expect(b.jobs).toHaveLength(0);
    expect(b.nextDueMs).toBeGreaterThan(0);
    // A claim that finds no work gives its tokens back.
    await t.arbiter.createQueue('fl_rate_empty');
    await t.arbiter.setQueueLimits('fl_rate_empty', { rate: { perSecond: 0.001, burst: 3 } });
    const e = t.arbiter.queue('fl_rate_empty');
    expect(await e.claim({ limit: 5 })).toEqual([]);
    for (let i = 0; i < 5; i++) await e.enqueue({ i });
    expect(await e.claim({ limit: 5 })).toHaveLength(3);
  });

  it('why names the limit that holds a ready job', async () => {
    const q = await t.arbiter.createQueue('fl_why');
    await q.enqueue({ a: 1 });
    const waiting = await q.enqueue({ b: 1 });
    await t.arbiter.setQueueLimits('fl_why', { maxInFlight: 1, rate: { perSecond: 0.01, burst: 1 } });
    expect(await q.claim({ limit: 5 })).toHaveLength(1);
    const why = await q.jobs.why(waiting!.id);
    expect(why!.ok).toBe(false);
    const codes = why!.reasons.map((r) => r.code);
    expect(codes).toContain('queue-cap');
    expect(codes).toContain('rate-limit');
    expect(why!.reasons.find((r) => r.code === 'queue-cap')!.text).toContain('Queue cap 1/1 reached');
    const rate = why!.reasons.find((r) => r.code === 'rate-limit')!;
    expect(rate.text).toMatch(/Waiting for a rate token of queue "fl_why", next in \d+ ms/);
    expect(rate.until!.getTime()).toBeGreaterThan(why!.checkedAt.getTime());
  });

  it('racing claimers in many processes never exceed the cap, and every job runs exactly once', async () => {
    const name = 'fl_race';
    const cap = 5;
    const total = 400;
    const q = await t.arbiter.createQueue<{ n: number }>(name);
    await q.enqueueMany(
      Array.from({ length: total }, (_, n) => ({
        payload: { n },
        ...(n % 3 === 0 ? { groupKey: `g${n % 17}` } : {}),
        priority: n % 4,
      })),
    );
    await t.arbiter.setQueueLimits(name, { maxInFlight: cap });
    const ran = new Map<number, number>();
    let running = 0;
    let maxRunning = 0;
    let maxSampled = 0;
    let done = false;
    // An independent recorder in the database: leased rows sampled on their own connection.
    const sampler = (async () => {
      while (!done) maxSampled = Math.max(maxSampled, await leased(name));
    })();
    const claimers = Array.from({ length: 8 }, async (_, w) => {
      const qq = anotherProcess().queue<{ n: number }>(name);
      let idle = 0;
      while (idle < 50) {
        const jobs: Job<{ n: number }>[] =
          w % 2
            ? (await qq.claimBatched({ batchSize: 3, maxBatches: 4 })).flat()
            : await qq.claim({ limit: 4 });
        if (jobs.length === 0) {
          idle += ran.size === total ? 10 : 1;
          await new Promise((r) => setImmediate(r));
          continue;
        }
        idle = 0;
        running += jobs.length;
        maxRunning = Math.max(maxRunning, running);
        for (const j of jobs) ran.set(j.payload.n, (ran.get(j.payload.n) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
        running -= jobs.length; // before the ack commits: the recorder never over-counts
        for (const j of jobs) expect(await qq.ack(j)).toBe(1);
      }
    });
    await Promise.all(claimers);
    done = true;
    await sampler;
    expect(maxRunning).toBeLessThanOrEqual(cap);
    expect(maxSampled).toBeLessThanOrEqual(cap);
    expect(maxRunning).toBeGreaterThan(1);
    expect(ran.size).toBe(total);
    expect([...ran.values()].every((n) => n === 1)).toBe(true);
    expect(await q.jobs.count()).toBe(0);
  });
});
