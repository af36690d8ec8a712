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

/** Jobs holding a lease, per limit key ('' for jobs without one), in one snapshot. */
async function leasedByKey(queue: string): Promise<Map<string, number>> {
  const { rows } = await t.pool.query<{ k: string; n: number }>(
    `SELECT coalesce(meta ->> 'arbiter:key', '') AS k, count(*)::int AS n FROM "${t.schema}"."${queue}"
     WHERE leased_until IS NOT NULL GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.k, r.n]));
}

const keyOf = (j: Job<unknown>) => j.limitKey ?? '';

describe('flow control: limits per key and fair share', () => {
  it('rejects bad values with typed errors and writes nothing', async () => {
    const q = await t.arbiter.createQueue('fk_bad');
    await t.arbiter.setQueueLimits('fk_bad', { perKey: { maxInFlight: 2 } });
    const badQueue: unknown[] = [
      { perKey: { maxInFlight: 0 } },
      { perKey: { maxInFlight: 2.5 } },
      { perKey: { rate: { perSecond: -1 } } },
      { perKey: { weight: 2 } },
      { perKey: 3 },
    ];
    for (const patch of badQueue) {
      await expect(t.arbiter.setQueueLimits('fk_bad', patch as never)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    const badKey: unknown[] = [
      { weight: 0 },
      { weight: 1001 },
      { weight: 1.5 },
      { maxInFlight: -1 },
      { rate: { perSecond: Number.NaN } },
      { rate: { perSecond: 1, burst: 0.5 } },
      { tier: 'gold' },
      null,
    ];
    for (const patch of badKey) {
      await expect(t.arbiter.setKeyLimits('fk_bad', 'acct', patch as never)).rejects.toBeInstanceOf(
        ValidationError,
      );
    }
    for (const key of ['', 'x'.repeat(1000), 'a\u0000b', 7]) {
      await expect(t.arbiter.setKeyLimits('fk_bad', key as never, { weight: 2 })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(q.enqueue({}, { limitKey: key as never })).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(q.enqueue({}, { limitKey: 'a', groupKey: 'g' })).rejects.toBeInstanceOf(ValidationError);
    await expect(q.enqueue({}, { meta: { 'arbiter:key': 'sneaky' } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(t.arbiter.setKeyLimits('fk_nope', 'a', { weight: 2 })).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
    await expect(t.arbiter.setQueueLimits('fk_nope', { perKey: {} })).rejects.toBeInstanceOf(
      QueueNotFoundError,
    );
    expect(await t.arbiter.getQueueLimits('fk_bad')).toEqual({
      maxInFlight: null,
      rate: null,
      perKey: { maxInFlight: 2, rate: null },
    });
    expect(await t.arbiter.getKeyLimits('fk_bad', 'acct')).toEqual({
      maxInFlight: null,
      rate: null,
      weight: null,
    });
    expect(await q.jobs.count()).toBe(0);
    const { rows } = await t.pool.query(`SELECT key FROM "${t.schema}"._flow_keys WHERE queue = 'fk_bad'`);
    expect(rows).toEqual([]);
  });

  it('a key takes no more than its limit; an override and jobs without a key are apart', async () => {
    const q = await t.arbiter.createQueue('fk_cap');
    await t.arbiter.setQueueLimits('fk_cap', { perKey: { maxInFlight: 2 } });
    await t.arbiter.setKeyLimits('fk_cap', 'big', { maxInFlight: 4 });
    for (let i = 0; i < 6; i++) {
      await q.enqueue({ i }, { limitKey: 'small' });
      await q.enqueue({ i }, { limitKey: 'big' });
      await q.enqueue({ i });
    }
    const first = await q.claim({ limit: 50 });
    const per = new Map<string, number>();
    for (const j of first) per.set(keyOf(j), (per.get(keyOf(j)) ?? 0) + 1);
    // No per-key default applies to jobs without a key.
    expect(Object.fromEntries(per)).toEqual({ small: 2, big: 4, '': 6 });
    expect(await q.claim({ limit: 50 })).toEqual([]);
    const small = first.filter((j) => keyOf(j) === 'small');
    await q.ack(small[0]!);
    const next = await q.claim({ limit: 50 });
    expect(next.map(keyOf)).toEqual(['small']);
    // A change applies at the next claim: the key's override is read inside the claim.
    await t.arbiter.setKeyLimits('fk_cap', 'small', { maxInFlight: 5 });
    expect((await q.claim({ limit: 50 })).map(keyOf)).toEqual(['small', 'small', 'small']);
    await t.arbiter.setKeyLimits('fk_cap', 'small', { maxInFlight: null });
    expect(await t.arbiter.getKeyLimits('fk_cap', 'small')).toEqual({
      maxInFlight: null,
      rate: null,
      weight: null,
    });
    const keys = await t.arbiter.listKeys('fk_cap');
    expect(keys.map((k) => [k.key, k.inFlight, k.maxInFlight, k.configured])).toEqual([
      ['', 6, null, false],
      ['big', 4, 4, true],
      ['small', 5, 2, false],
    ]);
  });

  it('fair share: a key with a backlog delays another key by at most one turn; weights set the shares', async () => {
    const q = await t.arbiter.createQueue('fk_fair');
    await q.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ payload: { i }, limitKey: 'a' })));
    await q.enqueueMany(Array.from({ length: 5 }, (_, i) => ({ payload: { i }, limitKey: 'b' })));
    // Without per-key limits, claims follow the queue's order: b waits behind a's backlog.
    expect((await q.claim({ limit: 10 })).map(keyOf)).toEqual(Array(10).fill('a'));
    await t.arbiter.setQueueLimits('fk_fair', { perKey: {} });
    const turn = (await q.claim({ limit: 10 })).map(keyOf);
    expect(turn.filter((k) => k === 'b')).toHaveLength(5);
    expect(turn.filter((k) => k === 'a')).toHaveLength(5);
    // Weights: c takes 3 jobs a turn against a's 1.
    await q.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ payload: { i }, limitKey: 'c' })));
    await t.arbiter.setKeyLimits('fk_fair', 'c', { weight: 3 });
    const shares = (await q.claim({ limit: 40 })).map(keyOf);
    expect(shares.filter((k) => k === 'c')).toHaveLength(30);
    expect(shares.filter((k) => k === 'a')).toHaveLength(10);
    // Within a key, priority orders: a's priority job goes first.
    await q.enqueue({ urgent: true }, { limitKey: 'a', priority: -5 });
    const next = await q.claim({ limit: 10 });
    expect(next.find((j) => keyOf(j) === 'a')!.payload).toEqual({ urgent: true });
  });

  it('a bucket per key: a key out of tokens leaves the others running and says when its next token is due', async () => {
    const q = await t.arbiter.createQueue('fk_rate');
    await t.arbiter.setQueueLimits('fk_rate', { perKey: { rate: { perSecond: 0.05, burst: 2 } } });
    await t.arbiter.setKeyLimits('fk_rate', 'fast', { rate: { perSecond: 1000, burst: 100 } });
    for (let i = 0; i < 5; i++) {
      await q.enqueue({ i }, { limitKey: 'slow' });
      await q.enqueue({ i }, { limitKey: 'fast' });
    }
    const a = await q.claimWithNextDue({ limit: 20 });
    expect(a.jobs.filter((j) => keyOf(j) === 'slow')).toHaveLength(2);
    expect(a.jobs.filter((j) => keyOf(j) === 'fast')).toHaveLength(5);
    expect(a.nextDueMs).toBeGreaterThan(0);
    expect(a.nextDueMs).toBeLessThanOrEqual(20_000);
    const b = await q.claimWithNextDue({ limit: 20 });
    expect(b.jobs).toEqual([]);
    expect(b.nextDueMs).toBeGreaterThan(0);
    const keys = await t.arbiter.listKeys('fk_rate');
    const slow = keys.find((k) => k.key === 'slow')!;
    expect(slow.tokens).toBeLessThan(1);
    expect(slow.ready).toBe(3);
    // Why names the key's bucket.
    const waiting = (await q.jobs.list({ filter: { status: 'ready' } })).items[0]!;
    const why = await q.jobs.why(waiting.id);
    const reason = why!.reasons.find((r) => r.code === 'key-rate-limit');
    expect(reason?.text).toMatch(/rate token of key "slow", next in \d+ ms/);
  });

  it('a claim visits a bounded number of keys and the next goes on from there: no key starves', async () => {
    const q = await t.arbiter.createQueue('fk_many');
    // 300 keys with nothing due (a job each, an hour ahead), and one key after them with a ready job.
    await q.enqueueMany(
      Array.from({ length: 300 }, (_, i) => ({
        payload: { i },
        limitKey: `a${String(i).padStart(3, '0')}`,
        delayMs: 3_600_000,
      })),
    );
    await q.enqueue({ last: true }, { limitKey: 'z' });
    await t.arbiter.setQueueLimits('fk_many', { perKey: {} });
    let claims = 0;
    let got: Job<unknown>[] = [];
    // A claim of 1 visits at most 68 keys: the key after 300 empty ones is reached within 5 claims.
    while (got.length === 0 && claims < 10) {
      got = await q.claim({ limit: 1 });
      claims++;
    }
    expect(got.map(keyOf)).toEqual(['z']);
    expect(claims).toBeGreaterThan(1);
    expect(claims).toBeLessThanOrEqual(5);
  });

  it('flow nodes carry a limit key too', async () => {
    await t.arbiter.createQueue('fk_flow');
    const flow = await t.arbiter.flow({
      nodes: {
        a: { queue: 'fk_flow', payload: { n: 'a' }, options: { limitKey: 'tenant-1' } },
        b: { queue: 'fk_flow', payload: { n: 'b' }, dependsOn: ['a'] },
      },
    });
    expect(flow.jobs.a!.limitKey).toBe('tenant-1');
    expect(flow.jobs.b!.limitKey).toBeNull();
    await expect(
      t.arbiter.flow({
        nodes: { a: { queue: 'fk_flow', payload: {}, options: { limitKey: 'x', groupKey: 'g' } } },
      }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('why names a key at its limit', async () => {
    const q = await t.arbiter.createQueue('fk_why');
    await t.arbiter.setQueueLimits('fk_why', { perKey: { maxInFlight: 1 } });
    await q.enqueue({ a: 1 }, { limitKey: 'acct-1' });
    const waiting = await q.enqueue({ b: 1 }, { limitKey: 'acct-1' });
    expect(await q.claim({ limit: 5 })).toHaveLength(1);
    const why = await q.jobs.why(waiting!.id);
    expect(why!.ok).toBe(false);
    const reason = why!.reasons.find((r) => r.code === 'key-cap');
    expect(reason?.text).toContain('Key "acct-1" is at its limit 1/1');
  });

  it('racing claimers in many processes never exceed any key limit, and every job runs exactly once', async () => {
    const name = 'fk_race';
    const total = 600;
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
    const limitOf = (k: string) => (k === 'k0' ? 4 : k === '' ? Infinity : 2);
    const q = await t.arbiter.createQueue<{ n: number }>(name);
    await t.arbiter.setQueueLimits(name, { perKey: { maxInFlight: 2 }, maxInFlight: 11 });
    await t.arbiter.setKeyLimits(name, 'k0', { maxInFlight: 4, weight: 2 });
    await q.enqueueMany(
      Array.from({ length: total }, (_, n) => ({
        payload: { n },
        ...(n % 10 === 9 ? {} : { limitKey: keys[n % keys.length] }),
        ...(n % 10 === 8 ? { groupKey: `g${n % 7}`, limitKey: undefined } : {}),
        priority: n % 3,
      })),
    );
    const ran = new Map<number, number>();
    const running = new Map<string, number>();
    let over: string | null = null;
    let done = false;
    // An independent recorder in the database: leases per key sampled on their own connection.
    const sampler = (async () => {
      while (!done) {
        for (const [k, n] of await leasedByKey(name)) {
          if (n > limitOf(k)) over = `sampled ${k}: ${n}`;
        }
      }
    })();
    const claimers = Array.from({ length: 8 }, async (_, w) => {
      const qq = anotherProcess().queue<{ n: number }>(name);
      let idle = 0;
      while (idle < 50) {
        const jobs: Job<{ n: number }>[] =
          w % 2
            ? (await qq.claimBatched({ batchSize: 3, maxBatches: 4 })).flat()
            : await qq.claim({ limit: 5 });
        if (jobs.length === 0) {
          idle += ran.size === total ? 10 : 1;
          await new Promise((r) => setImmediate(r));
          continue;
        }
        idle = 0;
        for (const j of jobs) {
          const k = keyOf(j);
          running.set(k, (running.get(k) ?? 0) + 1);
          if (running.get(k)! > limitOf(k)) over = `ran ${k}: ${running.get(k)}`;
          ran.set(j.payload.n, (ran.get(j.payload.n) ?? 0) + 1);
        }
        await new Promise((r) => setImmediate(r));
        for (const j of jobs) running.set(keyOf(j), running.get(keyOf(j))! - 1);
        for (const j of jobs) expect(await qq.ack(j)).toBe(1);
      }
    });
    await Promise.all(claimers);
    done = true;
    await sampler;
    expect(over).toBeNull();
    expect(ran.size).toBe(total);
    expect([...ran.values()].every((n) => n === 1)).toBe(true);
    expect(await q.jobs.count()).toBe(0);
  });
});
