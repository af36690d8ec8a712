import { expect, it } from 'vitest';
import { ParentNotFoundError, type ExecutorSource, type Job, type Queue } from '../../src/index.js';
import { uniqueName, type TestDb } from '../support/db.js';

/** Thrown inside a library's transaction callback to make the library roll it back. */
export class Rollback extends Error {}

/**
 * One library's transaction, as the scenarios drive it: runs `work` with the adapter built from that
 * library's transaction object, then commits (work returned) or rolls back (work threw).
 */
export type InTransaction = <R>(work: (tx: ExecutorSource) => Promise<R>) => Promise<R>;

interface Payload {
  n: number;
  text?: string;
  nested?: { list: unknown[]; flag: boolean; nothing: null };
}

async function rolledBack(
  inTx: InTransaction,
  work: (tx: ExecutorSource) => Promise<unknown>,
): Promise<void> {
  await expect(
    inTx(async (tx) => {
      await work(tx);
      throw new Rollback('roll back');
    }),
  ).rejects.toBeInstanceOf(Rollback);
}

/** Claims and acks until nothing is left; returns every job claimed. */
async function claimAll(q: Queue<Payload>): Promise<Job<Payload>[]> {
  const all: Job<Payload>[] = [];
  for (;;) {
    // Acked as they come: a group's next job is claimable once its head is done.
    const jobs = await q.claim({ limit: 100 });
    if (jobs.length === 0) return all;
    for (const job of jobs) expect(await q.ack(job)).toBe(1);
    all.push(...jobs);
  }
}

/**
 * The behaviour every adapter must show: jobs enqueued in a committed transaction are visible and
 * claimable, with the values Arbiter returned when enqueueing; in a rolled-back one they are gone;
 * enqueueMany (with keys: a savepoint and lock statement), enqueueManyCount and enqueueTree as well;
 * database errors are typed as with a pg client; and concurrent transactions each keep their own jobs.
 */
export function adapterScenarios(t: TestDb, inTx: () => InTransaction): void {
  const queue = async () => t.arbiter.createQueue<Payload>(uniqueName('q'));

  it('a job enqueued in a committed transaction is visible and claimable, as enqueue returned it', async () => {
    const q = await queue();
    const payload: Payload = {
      n: 1,
      text: 'héllo "quoted" \\ {braces}',
      nested: { list: [1, 'a', { b: 2 }], flag: true, nothing: null },
    };
    const runAt = new Date(Date.now() - 60_000);
    const job = await inTx()((tx) =>
      q.enqueue(payload, { tx, groupKey: 'g,1 "x"', priority: -3, runAt, meta: { source: 'adapter' } }),
    );
    expect(job).not.toBeNull();
    expect(typeof job!.id).toBe('string');
    expect(job!.id).toMatch(/^\d+$/);
    expect(job!.payload).toEqual(payload);
    expect(job!.runAt).toBeInstanceOf(Date);
    expect(job!.runAt.getTime()).toBe(runAt.getTime());
    expect(job!.createdAt).toBeInstanceOf(Date);
    expect(job!.meta).toEqual({ source: 'adapter' });

    const stored = await q.jobs.get(job!.id);
    expect(stored).toMatchObject({
      id: job!.id,
      payload,
      groupKey: 'g,1 "x"',
      priority: -3,
      meta: { source: 'adapter' },
    });
    expect(stored!.runAt.getTime()).toBe(runAt.getTime());
    expect(stored!.createdAt.getTime()).toBe(job!.createdAt.getTime());

    const [claimed] = await q.claim();
    expect(claimed).toMatchObject({ id: job!.id, payload, attempts: 1 });
    expect(await q.ack(claimed!)).toBe(1);
    expect(await q.jobs.get(job!.id)).toBeNull();
  });

  it('a job enqueued in a rolled-back transaction is gone', async () => {
    const q = await queue();
    let id: string | undefined;
    await rolledBack(inTx(), async (tx) => {
      id = (await q.enqueue({ n: 1 }, { tx }))!.id;
      expect(await q.jobs.get(id)).toBeNull(); // not visible outside the transaction yet
    });
    expect(id).toBeDefined();
    expect(await q.jobs.get(id!)).toBeNull();
    expect(await q.claim()).toEqual([]);
  });

  it('enqueueMany and enqueueManyCount commit and roll back with the transaction', async () => {
    const q = await queue();
    const items = (from: number) =>
      Array.from({ length: 6 }, (_, i) => ({
        payload: { n: from + i },
        groupKey: `g${i % 2}`,
        dedup: { key: `k${from + i}` },
      }));
    await rolledBack(inTx(), async (tx) => {
      expect(await q.enqueueMany(items(100), { tx })).toHaveLength(6);
      expect(await q.enqueueManyCount(items(200), { tx })).toBe(6);
    });
    const inserted = await inTx()(async (tx) => {
      const jobs = await q.enqueueMany(items(0), { tx });
      const plain = await q.enqueueManyCount(
        [{ payload: { n: 10 } }, { payload: { n: 11 }, delayMs: 0 }, { payload: { n: 12 } }],
        { tx },
      );
      expect(plain).toBe(3);
      // A dedup key already taken in this transaction: skipped, counted out.
      expect(await q.enqueueManyCount([{ payload: { n: 13 }, dedup: { key: 'k0' } }], { tx })).toBe(0);
      return jobs;
    });
    expect(inserted.map((j) => j.payload.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const j of inserted) expect(typeof j.id).toBe('string');
    const claimed = await claimAll(q);
    expect(claimed.map((j) => j.payload.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12]);
  });

  it('enqueueTree nests in a savepoint of the transaction, and rolls back with it', async () => {
    const q = await queue();
    await rolledBack(inTx(), (tx) =>
      q.enqueueTree({ payload: { n: 1 }, children: [{ payload: { n: 2 } }] }, { tx }),
    );
    expect(await q.claim()).toEqual([]);
    const tree = await inTx()((tx) =>
      q.enqueueTree({ payload: { n: 1 }, children: [{ payload: { n: 2 } }, { payload: { n: 3 } }] }, { tx }),
    );
    expect(tree.job.suspended).toBe(true);
    expect(tree.children.map((c) => c.job.parentId)).toEqual([tree.job.id, tree.job.id]);
    // The children first; acking both wakes the parent.
    const claimed = await claimAll(q);
    expect(claimed.map((j) => j.payload.n)).toEqual([2, 3, 1]);
  });

  it('database errors come back typed, as with a pg client', async () => {
    const q = await queue();
    await expect(inTx()((tx) => q.enqueue({ n: 1 }, { tx, parentId: '999999999' }))).rejects.toBeInstanceOf(
      ParentNotFoundError,
    );
  });

  it('concurrent transactions each keep, or lose, exactly their own jobs', async () => {
    const q = await queue();
    const transactions = 24;
    const outcomes = await Promise.allSettled(
      Array.from({ length: transactions }, (_, i) =>
        inTx()(async (tx) => {
          // Groups of its own: transactions that take one group's insert lock in one statement and
          // another's in the next may deadlock whatever the driver (docs/locking.md).
          await q.enqueue({ n: i * 10 }, { tx });
          await q.enqueueMany(
            [1, 2, 3].map((k) => ({
              payload: { n: i * 10 + k },
              groupKey: `tx${i}-${k % 2}`,
              dedup: { key: `${i}:${k}` },
            })),
            { tx },
          );
          if (i % 2 === 1) throw new Rollback(`tx ${i}`);
        }),
      ),
    );
    for (const [i, o] of outcomes.entries()) {
      if (i % 2 === 1) expect(o.status === 'rejected' ? o.reason : o).toBeInstanceOf(Rollback);
      else expect(o).toEqual({ status: 'fulfilled', value: undefined });
    }
    const expected = Array.from({ length: transactions }, (_, i) => i)
      .filter((i) => i % 2 === 0)
      .flatMap((i) => [0, 1, 2, 3].map((k) => i * 10 + k))
      .sort((a, b) => a - b);
    const claimed = await claimAll(q);
    expect(claimed.map((j) => j.payload.n).sort((a, b) => a - b)).toEqual(expected);
  });
}
