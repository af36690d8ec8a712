import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.js';

const t = useTestDb();

async function expireAll(queue: string): Promise<void> {
  await t.pool.query(
    `UPDATE "${t.schema}"."${queue}" SET run_at = now() - interval '1 second',
       leased_until = CASE WHEN leased_until IS NOT NULL THEN now() - interval '1 second' END`,
  );
  // Group rows mirror lease expiry through the trigger (leased_until changed).
}

describe('claim', () => {
  it('claims one job per group, the head in id order, then the next after ack', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_fifo');
    for (let i = 0; i < 5; i++) await q.enqueue({ n: i }, { groupKey: 'g1' });
    for (let i = 10; i < 13; i++) await q.enqueue({ n: i }, { groupKey: 'g2' });
    const order: number[] = [];
    for (;;) {
      const jobs = await q.claim({ limit: 10 });
      if (jobs.length === 0) break;
      expect(new Set(jobs.map((j) => j.groupKey)).size).toBe(jobs.length);
      for (const j of jobs) {
        order.push(j.payload.n);
        expect(await q.ack(j)).toBe(1);
      }
    }
    expect(order.filter((n) => n < 10)).toEqual([0, 1, 2, 3, 4]);
    expect(order.filter((n) => n >= 10)).toEqual([10, 11, 12]);
  });

  it('orders ungrouped jobs by priority (lower first), then by due time', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_prio');
    await q.enqueue({ n: 1 }, { priority: 5 });
    await q.enqueue({ n: 2 }, { priority: -1 });
    await q.enqueue({ n: 3 }, { priority: 5 });
    await q.enqueue({ n: 4 }, { priority: 0 });
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push((await q.claim())[0]!.payload.n);
    expect(got).toEqual([2, 4, 1, 3]);
  });

  it('sets a lease, bumps attempts, records the worker, and hides the job until the lease expires', async () => {
    const q = await t.arbiter.createQueue('c_lease');
    await q.enqueue({});
    const [job] = await q.claim({ leaseMs: 60_000, workerId: 'w1' });
    expect(job).toMatchObject({ attempts: 1, workerId: 'w1', status: 'in-flight' });
    expect(job!.leasedUntil!.getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(await q.claim()).toEqual([]);
    await expireAll('c_lease');
    const [again] = await q.claim({ workerId: 'w2' });
    expect(again).toMatchObject({ id: job!.id, attempts: 2, workerId: 'w2' });
    // The first worker lost its lease: every write it attempts is fenced off.
    expect(await q.ack(job!)).toBe(0);
    expect(await q.extendLease(job!, 1000)).toBe(0);
    expect(await q.retry(job!, { error: 'late' })).toBe(0);
    expect(await q.ack(again!)).toBe(1);
  });

  it('returns claimed jobs exactly as stored, including the fields the claim fills in itself', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_fields');
    await q.enqueueMany([
      { payload: { n: 1 }, meta: { m: 1 }, dedup: { key: 'd1' }, maxAttempts: 4 },
      { payload: { n: 2 }, groupKey: 'g', priority: -2, idempotencyKey: 'i2' },
      { payload: { n: 3 }, priority: 3 },
    ]);
    for (const leaseMs of [1_234, 60_000]) {
      const claimed = await q.claim({ limit: 10, leaseMs, workerId: `w-${leaseMs}` });
      expect(claimed).toHaveLength(3);
      for (const job of claimed) {
        const stored = await q.jobs.get(job.id);
        expect(job).toEqual({ ...stored, status: 'in-flight' });
        expect(job.claimedAt!.getTime()).toBe(job.leasedUntil!.getTime() - leaseMs);
      }
      await expireAll('c_fields');
    }
  });

  it('does not let a delayed or suspended job block its group', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_delayed');
    await q.enqueue({ n: 1 }, { groupKey: 'g', delayMs: 3_600_000 });
    await q.enqueue({ n: 2 }, { groupKey: 'g', suspended: true });
    await q.enqueue({ n: 3 }, { groupKey: 'g' });
    const jobs = await q.claim({ limit: 5 });
    expect(jobs.map((j) => j.payload.n)).toEqual([3]);
  });

  it('keeps a group blocked while its failed head waits for a retry', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_retry_block');
    await q.enqueue({ n: 1 }, { groupKey: 'g' });
    await q.enqueue({ n: 2 }, { groupKey: 'g' });
    const [first] = await q.claim();
    expect(await q.retry(first!, { delayMs: 60_000, error: 'boom' })).toBe(1);
    expect(await q.claim({ limit: 5 })).toEqual([]);
    await t.pool.query(
      `UPDATE "${t.schema}".c_retry_block SET run_at = now() - interval '1 ms' WHERE id = $1`,
      [first!.id],
    );
    const [retried] = await q.claim({ limit: 5 });
    expect(retried).toMatchObject({ id: first!.id, attempts: 2, lastError: 'boom' });
  });

  it('never claims a job that used its last attempt', async () => {
    const q = await t.arbiter.createQueue('c_exhausted');
    await q.enqueue({}, { maxAttempts: 1 });
    const [job] = await q.claim();
    expect(job).toBeDefined();
    await expireAll('c_exhausted');
    expect(await q.claim()).toEqual([]);
  });

  it('finds ready work however many unready groups rank ahead of it', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('c_starve');
    await q.enqueueMany(
      Array.from({ length: 3000 }, (_, i) => ({
        payload: { n: i },
        groupKey: `delayed-${i}`,
        delayMs: 3_600_000,
        priority: -10,
      })),
    );
    await q.enqueueMany(
      Array.from({ length: 500 }, (_, i) => ({
        payload: { n: i },
        groupKey: `susp-${i}`,
        suspended: true,
        priority: -10,
      })),
    );
    await q.enqueue({ n: -1 }, { groupKey: 'ready', priority: 10 });
    await q.enqueue({ n: -2 }, { priority: 10 });
    const jobs = await q.claim({ limit: 5 });
    expect(jobs.map((j) => j.payload.n).sort((a, b) => a - b)).toEqual([-2, -1]);
  });

  it('claims in batches: up to B jobs per group across up to G groups, standalone jobs only', async () => {
    const q = await t.arbiter.createQueue<{ g: string; n: number }>('c_batched');
    for (const g of ['a', 'b', 'c']) {
      await q.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ payload: { g, n }, groupKey: g })));
    }
    await q.enqueueMany(Array.from({ length: 4 }, (_, n) => ({ payload: { g: '-', n } })));
    const batches = await q.claimBatched({ batchSize: 3, maxBatches: 2 });
    expect(batches).toHaveLength(2);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(3);
      expect(b.map((j) => j.payload.n)).toEqual([...b.map((j) => j.payload.n)].sort());
      expect(new Set(b.map((j) => j.groupKey)).size).toBe(1);
    }
    const grouped = batches.filter((b) => b[0]!.groupKey !== null);
    for (const b of grouped) expect(b.map((j) => j.payload.n)).toEqual([0, 1, 2]);
    // A group with a batch in flight is blocked as a whole.
    const more = await q.claimBatched({ batchSize: 3, maxBatches: 10 });
    const claimedGroups = new Set(grouped.map((b) => b[0]!.groupKey));
    for (const b of more) expect(claimedGroups.has(b[0]!.groupKey)).toBe(false);
    const all = [...batches, ...more].flat();
    expect(await q.ackBulk(all)).toHaveLength(all.length);
  });
});

describe('leases and retries', () => {
  it('a grouped job whose final attempt ran out holds its group until it is dead-lettered', async () => {
    const q = await t.arbiter.createQueue<{ n: number }>('claim_exhausted_head');
    const a = await q.enqueue({ n: 1 }, { groupKey: 'g', maxAttempts: 1 });
    const b = await q.enqueue({ n: 2 }, { groupKey: 'g' });
    const [claimed] = await q.claim({ leaseMs: 600_000 });
    expect(claimed!.id).toBe(a!.id);
    // Its worker died on the final attempt: the lease runs out, and no claim may run the next job while
    // the exhausted one waits for the reaper (FIFO holds through failures).
    await expireAll('claim_exhausted_head');
    expect(await q.claim({ limit: 10 })).toEqual([]);
    expect(await q.claimBatched({ batchSize: 5, maxBatches: 5 })).toEqual([]);
    expect(await t.arbiter.store(q.name).reapExhausted(10)).toBe(1);
    expect((await q.claim({ limit: 10 })).map((j) => j.id)).toEqual([b!.id]);
  });

  it('extends leases and reports updated, acked and stolen per job', async () => {
    const q = await t.arbiter.createQueue('l_batch');
    await q.enqueueMany([{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    const jobs = await q.claim({ limit: 3, leaseMs: 1000 });
    expect(jobs).toHaveLength(3);
    const [a, b, c] = jobs as [(typeof jobs)[0], (typeof jobs)[0], (typeof jobs)[0]];
    await q.ack(b);
    await t.pool.query(
      `UPDATE "${t.schema}".l_batch SET leased_until = now() - interval '1 s', run_at = now() - interval '1 s' WHERE id = $1`,
      [c.id],
    );
    const [stealer] = await q.claim();
    expect(stealer!.id).toBe(c.id);
    const report = await q.extendLeases([a, b, c], 60_000);
    expect(report).toEqual([
      { id: a.id, status: 'updated', currentAttempts: 1 },
      { id: b.id, status: 'acked', currentAttempts: null },
      { id: c.id, status: 'stolen', currentAttempts: 2 },
    ]);
    const { rows } = await t.pool.query(
      `SELECT leased_until > now() + interval '50 s' AS long FROM "${t.schema}".l_batch WHERE id = $1`,
      [a.id],
    );
    expect(rows[0].long).toBe(true);
  });

  it('retry records the error, releases the lease and delays the next claim', async () => {
    const q = await t.arbiter.createQueue('l_retry');
    await q.enqueue({});
    const [job] = await q.claim();
    expect(await q.retry(job!, { delayMs: 30_000, error: 'x'.repeat(70_000) })).toBe(1);
    const { rows } = await t.pool.query(
      `SELECT leased_until, length(last_error) AS len, run_at > now() + interval '25 s' AS later FROM "${t.schema}".l_retry`,
    );
    expect(rows[0]).toMatchObject({ leased_until: null, later: true });
    expect(rows[0].len).toBeLessThanOrEqual(64 * 1024);
    expect(await q.claim()).toEqual([]);
  });
});
